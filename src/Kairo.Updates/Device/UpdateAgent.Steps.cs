using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Kairo.Onnx;
using Kairo.Runtime.Loops;
using Kairo.Updates.Packages;
using Kairo.Updates.Signing;
using Microsoft.Extensions.Logging;

namespace Kairo.Updates.Device;

// The steps of one update, on the update's own thread.
public sealed partial class UpdateAgent
{
    private void Run(Job job)
    {
        try
        {
            RunSteps(job);
        }
        catch (Exception e)
        {
            // Nothing may leave the update thread: an exception there would end the daemon and every loop with it.
            _logger.LogCritical("update {Job}: could not be ended cleanly ({Type}): {Message}", job.Record.JobId, e.GetType().Name, e.Message);
        }
        finally
        {
            Cleanup(job);
        }
    }

    private void RunSteps(Job job)
    {
        CancellationToken token = job.Stop.Token;
        try
        {
            Download(job, token);
            Verify(job, token);
            Stage(job, token);
            Validate(job, token);
            Activate(job, token);
            Health(job, token);
            Commit(job);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            if (job.Cancelled)
            {
                Fail(job, UpdateFailure.Cancelled, "cancelled by ota.cancel");
            }
            else
            {
                // The daemon is stopping: the journal keeps the step, and the next start resumes or settles it.
                PutBack(job);
                _logger.LogInformation("update {Job}: stopped at {Step}; the next start picks it up", job.Record.JobId, job.Record.Step.ToName());
            }
        }
        catch (UpdateException e)
        {
            Fail(job, e.Failure, e.Message);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Fail(job, UpdateFailure.StoreFailed, $"{e.Message}; check the state directory's file system");
        }
        catch (Exception e) when (e is OnnxRuntimeException or LoopConfigurationException)
        {
            Fail(job, e is OnnxRuntimeException ? UpdateFailure.ModelInvalid : UpdateFailure.SignatureMismatch, e.Message.ReplaceLineEndings(" "));
        }
        catch (TimeoutException e)
        {
            Fail(job, UpdateFailure.HealthFailed, e.Message);
        }
        catch (Exception e)
        {
            _logger.LogError("update {Job}: unexpected {Type}: {Message}", job.Record.JobId, e.GetType().Name, e);
            Fail(job, UpdateFailure.StoreFailed, $"unexpected {e.GetType().Name}: {e.Message}");
        }
    }

    /// <summary>Frees what the update held, each part on its own so that one failure does not keep the next.</summary>
    private void Cleanup(Job job)
    {
        foreach (var (_, next) in job.Prepared)
        {
            next.Dispose();
        }

        job.Prepared.Clear();
        try
        {
            DeleteScratch(job.Record.JobId);
            if (job.Record is { Digest: { } digest, Step: not UpdateStep.Committed })
            {
                _store.Release(digest); // no longer protected from cleanup
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _logger.LogWarning("update {Job}: leftovers stay until the next cleanup: {Message}", job.Record.JobId, e.Message);
        }

        lock (_gate)
        {
            _running = null;
        }

        job.Stop.Dispose();
    }

    /// <summary>Writes the step to the journal, reports it, then honours a crash-test pause there.</summary>
    private void Enter(Job job, UpdateStep step, string message)
    {
        job.Stop.Token.ThrowIfCancellationRequested(); // a cancel or a stop between two steps ends the update before the next
        job.Record = job.Record with { Step = step, Updated = DateTimeOffset.UtcNow };
        _journal.Write(job.Record);
        _logger.LogInformation("update {Job}: {Step}: {Message}", job.Record.JobId, step.ToName(), message);
        Report(job.Record, message);
        PauseAt(job, step.ToName(), job.Stop.Token); // even where the step's own work cannot be cancelled, a stop ends the pause
    }

    private void PauseAt(Job job, string point, CancellationToken token)
    {
        if (!_options.PauseAt.Contains(point))
        {
            return;
        }

        _logger.LogWarning("update {Job}: paused at {Point} (KAIRO_UPDATE_PAUSE)", job.Record.JobId, point);
        Report(job.Record, $"paused at {point} (KAIRO_UPDATE_PAUSE)");
        token.WaitHandle.WaitOne();
        token.ThrowIfCancellationRequested();
    }

    private void Download(Job job, CancellationToken token)
    {
        Enter(job, UpdateStep.Download, $"fetching {job.Record.Url}");
        var reporter = new DownloadReporter(this, job, token);
        job.Manifest = _downloader.DownloadAsync(new Uri(job.Record.Url), _journal.PartPath(job.Record.JobId), (manifest, signatures) => Authorize(job, manifest, signatures), reporter, token)
            .GetAwaiter().GetResult();
    }

    /// <summary>Judges manifest.json and signatures.json as soon as they arrive, before the model is fetched.</summary>
    private PackageManifest Authorize(Job job, byte[] manifestBytes, byte[]? signatureBytes)
    {
        PackageManifest manifest = PackageManifest.Parse(manifestBytes);
        IReadOnlyList<PackageSignature> signatures = signatureBytes is null ? [] : PackageSignatures.Parse(signatureBytes);
        _verifier.CheckSignatures(manifestBytes, signatures).Check.ThrowIfFailed();
        _verifier.CheckExpiry(manifest).ThrowIfFailed();
        CheckDevice(manifest);
        job.ManifestDigest = Convert.ToHexStringLower(SHA256.HashData(manifestBytes));
        job.Record = job.Record with { Model = manifest.Model, Version = manifest.Version, Release = manifest.Release, PreviousVersion = ActiveVersion(manifest.Model), Updated = DateTimeOffset.UtcNow };
        _journal.Write(job.Record);
        Report(job.Record, $"{manifest} is signed and fits this device; fetching its {manifest.Files.Count} files");
        return manifest;
    }

    /// <summary>The checks that need this device: a loop runs the model, the version is new, the board, the runtime, the loops' inputs and outputs.</summary>
    private void CheckDevice(PackageManifest manifest)
    {
        IReadOnlyList<ControlLoop> loops = _host.LoopsOf(manifest.Model);
        if (loops.Count == 0)
        {
            throw new UpdateException(UpdateFailure.ModelUnknown,
                $"no loop of this device runs model '{manifest.Model}'; a package updates a model the board profile already runs");
        }

        PackageVerifier.CheckVersionNewer(manifest, HighestVersion(manifest.Model)).ThrowIfFailed();
        PackageVerifier.CheckBoard(manifest, _host.Board).ThrowIfFailed();
        PackageVerifier.CheckRuntime(manifest, _host.KairoVersion, _host.OnnxRuntimeVersion).ThrowIfFailed();
        foreach (ControlLoop loop in loops)
        {
            PackageCheck fits = PackageVerifier.CheckLoop(manifest, loop.Layout);
            if (!fits.Passed)
            {
                throw new UpdateException(UpdateFailure.SignatureMismatch, $"loop {loop.Name}: {fits.Detail}");
            }
        }
    }

    private long HighestVersion(string model) => Math.Max(_store.Find(model)?.HighestVersion ?? 0, _host.ProfileVersion(model));

    private long ActiveVersion(string model) => _store.Find(model)?.Active?.Version ?? _host.ProfileVersion(model);

    private void Verify(Job job, CancellationToken token)
    {
        Enter(job, UpdateStep.Verify, "checking every file against the signed manifest");
        string scratch = ScratchPath(job.Record.JobId);
        DeleteScratch(job.Record.JobId);
        PackageArchive.Extract(_journal.PartPath(job.Record.JobId), scratch);
        PackageVerification verification = _verifier.Verify(scratch, token);
        if (verification.FailedCheck is { } failed)
        {
            throw new UpdateException(failed.Failure!.Value, $"{failed.Name}: {failed.Detail}");
        }

        string digest = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(scratch, PackagePaths.Manifest))));
        if (digest != job.ManifestDigest)
        {
            throw new UpdateException(UpdateFailure.PackageInvalid, "the archive's manifest.json is not the one whose signatures were checked");
        }

        CheckDevice(verification.Manifest!);
        DeleteScratch(job.Record.JobId);
    }

    private void Stage(Job job, CancellationToken token)
    {
        Enter(job, UpdateStep.Stage, "writing the package into the model store");
        string digest = _store.Stage(_journal.PartPath(job.Record.JobId), () => PauseAt(job, "stage.write", token), token);
        job.Record = job.Record with { Digest = digest }; // from here a failure removes what was staged
        if (digest != job.ManifestDigest)
        {
            throw new UpdateException(UpdateFailure.PackageInvalid, $"the staged package {digest} is not the verified one {job.ManifestDigest}");
        }

        // The stored copy is what loops will load: it must be the verified bytes, whatever happened since.
        PackageVerifier.CheckFiles(_store.PathOf(digest), job.Manifest!, token).ThrowIfFailed();
    }

    private void Validate(Job job, CancellationToken token)
    {
        PackageManifest manifest = job.Manifest!;
        Enter(job, UpdateStep.Validate, "running the golden vectors and loading the model for its loops");
        string directory = _store.PathOf(job.Record.Digest!);
        var gate = new GoldenGate(_host.SessionOptions(manifest.Model, manifest.Version));
        GoldenResult result = gate.Run(directory, manifest, token);
        foreach (PackageCheck check in result.Checks)
        {
            _logger.LogInformation("update {Job}: {Check}", job.Record.JobId, check);
        }

        if (result.FailedCheck is { } failed)
        {
            throw new UpdateException(failed.Failure!.Value, $"{failed.Name}: {failed.Detail}");
        }

        Report(job.Record, string.Join("; ", result.Checks.Select(c => c.Detail)));
        foreach (ControlLoop loop in _host.LoopsOf(manifest.Model))
        {
            token.ThrowIfCancellationRequested();
            ModelSource source = _host.Source(manifest.Model, Path.Combine(directory, PackagePaths.Model), manifest.Version, manifest.Release);
            job.Prepared.Add((loop, ModelInstance.Load(source, loop.Options, loop.Layout)));
        }
    }

    private void Activate(Job job, CancellationToken token)
    {
        Enter(job, UpdateStep.Activate, $"swapping {job.Record.Model} v{job.Record.Version} in between two ticks");
        while (job.Prepared.Count > 0)
        {
            token.ThrowIfCancellationRequested();
            var (loop, next) = job.Prepared[0];
            HealthSample before = Sample(loop); // the new model's first ticks count too
            ModelInstance previous = loop.Swap(next, _options.SwapTimeout);
            job.Prepared.RemoveAt(0);
            job.Swapped.Add((loop, previous));
            job.HealthBaseline.Add(before);
            _host.ModelChanged(loop, "model.activated", $"{previous.Name} v{previous.Version}");
        }
    }

    /// <summary>Runs the new model for the health window; any error, NaN output or too many misses rolls it back.</summary>
    private void Health(Job job, CancellationToken token)
    {
        TimeSpan window = _options.HealthWindow;
        Enter(job, UpdateStep.Health, string.Create(CultureInfo.InvariantCulture, $"health window of {window.TotalSeconds:0.#} s"));
        List<HealthSample> before = job.HealthBaseline;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < window)
        {
            TimeSpan left = window - clock.Elapsed;
            if (token.WaitHandle.WaitOne(left < TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1)))
            {
                token.ThrowIfCancellationRequested();
            }

            if (Problem(job, before) is { } early)
            {
                throw new UpdateException(UpdateFailure.HealthFailed, early);
            }

            Report(job.Record, string.Create(CultureInfo.InvariantCulture, $"health window: {Math.Max(0, (window - clock.Elapsed).TotalSeconds):0} s left"));
        }

        if (Problem(job, before) is { } problem)
        {
            throw new UpdateException(UpdateFailure.HealthFailed, problem);
        }

        if (Unproven(job, before) is { } unproven)
        {
            throw new UpdateException(UpdateFailure.HealthFailed, unproven);
        }
    }

    /// <summary>A window in which the new model never ran (emergency stop held, loop stopped) proves nothing: not committed.</summary>
    private static string? Unproven(Job job, List<HealthSample> before)
    {
        var idle = new List<string>();
        for (int i = 0; i < job.Swapped.Count; i++)
        {
            ControlLoop loop = job.Swapped[i].Loop;
            if (Sample(loop).Fresh == before[i].Fresh)
            {
                idle.Add(loop.State == LoopState.Running ? $"loop {loop.Name} emitted only safe or held outputs" : $"loop {loop.Name} is not running");
            }
        }

        return idle.Count > 0 ? $"the new model never ran in the health window: {string.Join("; ", idle)}; the previous version is back, update again once the loops run" : null;
    }

    private string? Problem(Job job, List<HealthSample> before)
    {
        var problems = new List<string>();
        for (int i = 0; i < job.Swapped.Count; i++)
        {
            ControlLoop loop = job.Swapped[i].Loop;
            HealthSample now = Sample(loop);
            HealthSample then = before[i];
            long ticks = now.Ticks - then.Ticks;
            long errors = now.Errors - then.Errors;
            long nans = now.NaNs - then.NaNs;
            long misses = now.Misses - then.Misses;
            if (errors > 0)
            {
                problems.Add($"loop {loop.Name}: {errors} inference errors");
            }

            if (nans > 0)
            {
                problems.Add($"loop {loop.Name}: {nans} outputs with NaN");
            }

            if (ticks > 0 && misses > _options.MaxMissRatio * ticks)
            {
                problems.Add(string.Create(CultureInfo.InvariantCulture,
                    $"loop {loop.Name}: {misses} of {ticks} ticks missed their deadline, more than {_options.MaxMissRatio:P1}{MissCauses(loop, then.MissRecords)}"));
            }
        }

        return problems.Count > 0 ? $"{string.Join("; ", problems)}; the previous version is back" : null;
    }

    private static HealthSample Sample(ControlLoop loop) =>
        new(loop.Metrics.Ticks, loop.Metrics.Misses(MissCause.InferenceError), loop.Metrics.NanOutputs, loop.Metrics.DeadlineMisses, loop.Metrics.FreshOutputs, loop.Metrics.MissRecords);

    /// <summary>
    /// What the window's missed ticks were, from the loop's record of them: a slow model shows as slow inference, a
    /// device that stalls the loop thread as late wake-ups and overruns.
    /// </summary>
    private static string MissCauses(ControlLoop loop, long afterRecord)
    {
        IReadOnlyList<MissRecord> missed = loop.Metrics.RecentMisses(afterRecord);
        if (missed.Count == 0)
        {
            return "";
        }

        var causes = missed.GroupBy(m => m.Cause).OrderBy(g => g.Key).Select(g => string.Create(CultureInfo.InvariantCulture, $"{g.Key.ToName()} {g.Count()}"));
        long overruns = missed.Sum(m => m.Overruns);
        MissRecord worst = missed.MaxBy(m => m.OvershootNanoseconds);
        string newest = missed.Count < loop.Metrics.MissRecords - afterRecord ? "the newest " : "";
        return string.Create(CultureInfo.InvariantCulture,
            $"; {newest}{missed.Count} late ticks by cause: {string.Join(", ", causes)}, and {overruns} periods overrun; the worst {worst.OvershootNanoseconds / 1e6:0.0} ms late ({worst.Cause.ToName()} at tick {worst.Tick})");
    }

    private void Commit(Job job)
    {
        lock (_gate)
        {
            // Decided under the gate: ota.cancel either came first and wins, or finds the update committing and is refused.
            job.Stop.Token.ThrowIfCancellationRequested();
            job.Record = job.Record with { Step = UpdateStep.Commit };
        }

        Enter(job, UpdateStep.Commit, "recording the new version as active");
        try
        {
            _store.Commit(job.Record.Model!, new InstalledVersion(job.Record.Version!.Value, job.Record.Release ?? "", job.Record.Digest!));
        }
        catch (UpdateException e) when (e.Failure == UpdateFailure.StoreFailed && StoreNamesActive(job))
        {
            // installed.json was renamed into place and only its directory's fsync failed: what the store says is what
            // the next start loads, so the update is committed; rolling the loops back now would contradict it.
            _logger.LogWarning("update {Job}: committed, but not yet durable: {Message}", job.Record.JobId, e.Message);
        }

        foreach (var (_, previous) in job.Swapped)
        {
            previous.Dispose();
        }

        job.Swapped.Clear();
        Finish(job.Record, UpdateStep.Committed, null, $"{job.Record.Model} v{job.Record.Version} ({job.Record.Release}) is active and committed");
    }

    private bool StoreNamesActive(Job job)
    {
        try
        {
            return _store.Find(job.Record.Model!)?.Active?.Digest == job.Record.Digest;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private void Fail(Job job, UpdateFailure failure, string message)
    {
        bool live = job.Swapped.Count > 0;
        string? stuck = PutBack(job);
        if (stuck is not null)
        {
            message = $"{message}; and {stuck}";
        }

        // The end is in the journal before the package goes, so a crash in between never resumes a finished update;
        // it is reported after, so whoever follows the update finds the store already without it.
        Finish(job.Record, live && stuck is null ? UpdateStep.RolledBack : UpdateStep.Failed, failure, message,
            beforeReport: job.Record.Digest is { } digest ? () => Discard(job.Record.JobId, digest) : null);
    }

    /// <summary>Unpins a package this update staged and will not commit, and removes it with the store's other leftovers.</summary>
    private void Discard(string jobId, string digest)
    {
        try
        {
            _store.Release(digest);
            _store.Cleanup();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            _logger.LogWarning("update {Job}: the store keeps package {Digest} for now: {Message}", jobId, digest, e.Message);
        }
    }

    /// <summary>
    /// Swaps every loop back to the model it ran before the update; a loop that does not reach a tick boundary in
    /// time is tried again. Returns what could not be put back, or null.
    /// </summary>
    private string? PutBack(Job job)
    {
        var stuck = new List<string>();
        for (int i = job.Swapped.Count - 1; i >= 0; i--)
        {
            var (loop, previous) = job.Swapped[i];
            Exception? last = null;
            for (int attempt = 0; attempt < 3; attempt++)
            {
                try
                {
                    ModelInstance rejected = loop.Swap(previous, _options.SwapTimeout);
                    rejected.Dispose();
                    _host.ModelChanged(loop, "model.rolled-back", $"{rejected.Name} v{rejected.Version}");
                    last = null;
                    break;
                }
                catch (Exception e) when (e is TimeoutException or LoopConfigurationException or OnnxRuntimeException)
                {
                    last = e;
                }
            }

            if (last is not null)
            {
                previous.Dispose();
                _logger.LogCritical("update {Job}: loop {Loop} could not be put back on {Model} v{Version}: {Message}", job.Record.JobId, loop.Name, previous.Name, previous.Version, last.Message);
                stuck.Add($"loop {loop.Name} could not be put back on {previous.Name} v{previous.Version} ({last.Message})");
            }
        }

        job.Swapped.Clear();
        return stuck.Count > 0 ? string.Join("; ", stuck) : null;
    }

    private string ScratchPath(string jobId) => Path.Combine(_journal.Directory, $"{jobId}.verify");

    private void DeleteScratch(string jobId)
    {
        string scratch = ScratchPath(jobId);
        if (Directory.Exists(scratch))
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    private readonly record struct HealthSample(long Ticks, long Errors, long NaNs, long Misses, long Fresh, long MissRecords);

    /// <summary>Reports download progress inline (the downloader's thread), and pauses mid-transfer for crash tests.</summary>
    private sealed class DownloadReporter(UpdateAgent agent, Job job, CancellationToken token) : IProgress<DownloadProgress>
    {
        public void Report(DownloadProgress value)
        {
            agent.Report(job.Record, value.Total is { } total
                ? string.Create(CultureInfo.InvariantCulture, $"{value.Bytes} of {total} bytes")
                : string.Create(CultureInfo.InvariantCulture, $"{value.Bytes} bytes"), value.Bytes, value.Total);
            if (value.Total is { } all && value.Bytes > 0 && value.Bytes < all)
            {
                agent.PauseAt(job, "download.body", token);
            }
        }
    }
}
