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

            ModelSource source = installed.Previous is { } previous
                ? _host.Source(model, Path.Combine(_store.PathOf(previous.Digest), PackagePaths.Model), previous.Version, previous.Release)
                : _host.ProfileSource(model);
            var prepared = new List<ModelInstance>();
            try
            {
                foreach (ControlLoop loop in loops)
                {
                    prepared.Add(ModelInstance.Load(source, loop.Options, loop.Layout));
                }
            }
            catch
            {
                prepared.ForEach(p => p.Dispose());
                throw;
            }

            for (int i = 0; i < loops.Count; i++)
            {
                ModelInstance replaced = loops[i].Swap(prepared[i], _options.SwapTimeout);
                replaced.Dispose();
                _host.ModelChanged(loops[i], "model.rolled-back", $"{replaced.Name} v{replaced.Version}");
            }

            if (installed.Previous is not null)
            {
                _store.RollBack(model);
            }
            else
            {
                _store.Deactivate(model);
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
