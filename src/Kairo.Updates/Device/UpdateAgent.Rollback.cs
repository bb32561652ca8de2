using Kairo.Runtime.Loops;
using Kairo.Updates.Packages;
using Microsoft.Extensions.Logging;

namespace Kairo.Updates.Device;

// ota.rollback: an operator puts the version before the active one back.
public sealed partial class UpdateAgent
{
    /// <summary>
    /// Puts the rollback target of <paramref name="model"/> back into its loops between two ticks: the store's
    /// previous version, or the profile's model when the active one is the first installed. The highest version
    /// installed stays, so the rolled-back version is not installed again: a fix ships as a newer version.
    /// </summary>
    /// <returns>What changed, in one line.</returns>
    /// <exception cref="InvalidOperationException">Nothing to roll back to, or no loop runs the model.</exception>
    /// <exception cref="UpdateBusyException">An update (or another rollback) runs.</exception>
    public string RollBack(string model)
    {
        lock (_gate)
        {
            if (_running is not null || _resume is not null || _rollingBack)
            {
                throw new UpdateBusyException($"update {(_running?.Record ?? _resume)?.JobId ?? "rollback"} is running; wait for it or cancel it first");
            }

            _rollingBack = true;
        }

        try
        {
            InstalledModel? installed = _store.Find(model);
            if (installed?.Active is not { } active)
            {
                throw new InvalidOperationException($"model '{model}' runs the profile's version; no update was installed over it, so there is nothing to roll back to");
            }

            IReadOnlyList<ControlLoop> loops = _host.LoopsOf(model);
            if (loops.Count == 0)
            {
                throw new InvalidOperationException($"no loop runs model '{model}'");
            }

            if (installed.Previous is { } target && CheckStored(_store.PathOf(target.Digest)) is { Passed: false } damaged)
            {
                throw new InvalidOperationException($"the rollback target {model} v{target.Version} is damaged in the store ({damaged.Detail}); nothing changed");
            }

            ModelSource source = installed.Previous is { } previous
                ? _host.Source(model, Path.Combine(_store.PathOf(previous.Digest), PackagePaths.Model), previous.Version, previous.Release)
                : _host.ProfileSource(model);
            var prepared = new List<ModelInstance>();
            var swapped = new List<(ControlLoop Loop, ModelInstance Replaced)>();
            try
            {
                foreach (ControlLoop loop in loops)
                {
                    prepared.Add(ModelInstance.Load(source, loop.Options, loop.Layout));
                }

                // The store first: should the swaps fail, it is put back with them, and a restart never loads the
                // version the operator rolled back from.
                bool toPrevious = installed.Previous is not null;
                _ = toPrevious ? _store.RollBack(model) : _store.Deactivate(model);
                try
                {
                    for (int i = 0; i < loops.Count; i++)
                    {
                        swapped.Add((loops[i], loops[i].Swap(prepared[i], _options.SwapTimeout)));
                        prepared[i] = null!;
                    }
                }
                catch
                {
                    foreach (var (loop, replaced) in Enumerable.Reverse(swapped))
                    {
                        loop.Swap(replaced, _options.SwapTimeout).Dispose();
                    }

                    swapped.Clear();
                    _store.Commit(model, active); // the store as it was
                    throw;
                }
            }
            finally
            {
                foreach (ModelInstance? instance in prepared)
                {
                    instance?.Dispose();
                }
            }

            foreach (var (loop, replaced) in swapped)
            {
                replaced.Dispose();
                _host.ModelChanged(loop, "model.rolled-back", $"{replaced.Name} v{replaced.Version}");
            }

            string line = $"{model}: v{active.Version} -> v{source.Version} in {string.Join(", ", loops.Select(l => l.Name))}; v{active.Version} stays the highest installed, so the next update must be newer";
            _logger.LogWarning("rollback: {Line}", line);
            return line;
        }
        finally
        {
            lock (_gate)
            {
                _rollingBack = false;
            }
        }
    }
}
