using System.Security.Cryptography;
using Kairo.Runtime.Loops;
using Kairo.Updates.Packages;
using Microsoft.Extensions.Logging;

namespace Kairo.Updates.Device;

/// <summary>
/// The device's side of an over-the-air update: download → verify → stage → validate → activate → health → commit,
/// each step written to the <see cref="UpdateJournal"/> before it starts, one update at a time on its own thread so
/// that no loop ever waits for it. A failure before activation leaves the old model untouched (<c>failed</c>); a
/// failure after it swaps the old model back between two ticks (<c>rolled_back</c>). After a restart,
/// <see cref="Recover"/> finishes an interrupted commit or gives up an uncommitted live model, before any loop
/// loads, and <see cref="ResumeInterrupted"/> picks up an update that had not gone live.
/// </summary>
public sealed partial class UpdateAgent : IDisposable
{
    private readonly UpdateAgentOptions _options;
    private readonly PackageVerifier _verifier;
    private readonly ModelStore _store;
    private readonly UpdateJournal _journal;
    private readonly IUpdateHost _host;
    private readonly Action<UpdateProgress> _progress;
    private readonly ILogger _logger;
    private readonly PackageDownloader _downloader;
    private readonly Lock _gate = new();
    private Job? _running;
    private UpdateRecord? _resume;
    private UpdateProgress? _last;
    private bool _disposed;
    private bool _rollingBack;

    public UpdateAgent(
        UpdateAgentOptions options,
        PackageVerifier verifier,
        ModelStore store,
        UpdateJournal journal,
        IUpdateHost host,
        Action<UpdateProgress> progress,
        ILogger logger)
    {
        _options = options;
        _verifier = verifier;
        _store = store;
        _journal = journal;
        _host = host;
        _progress = progress;
        _logger = logger;
        _downloader = new PackageDownloader(options.Download);
    }

    public ModelStore Store => _store;

    public UpdateJournal Journal => _journal;

    /// <summary>The last progress report, of the running update or the last one that ran since start.</summary>
    public UpdateProgress? LastProgress => Volatile.Read(ref _last);

    /// <summary>The end <see cref="Recover"/> gave an update the device stopped in, for whoever follows it once the network is up.</summary>
    public UpdateProgress? Recovered { get; private set; }

    /// <summary>True while an update runs, waits to resume, or a rollback runs: loops of updated models are then the agent's to swap.</summary>
    public bool IsBusy
    {
        get
        {
            lock (_gate)
            {
                return _running is not null || _resume is not null || _rollingBack;
            }
        }
    }

    /// <summary>The id of the update running now, or null.</summary>
    public string? RunningJobId
    {
        get
        {
            lock (_gate)
            {
                return _running?.Record.JobId;
            }
        }
    }

    /// <summary>
    /// Settles the journal before any loop loads a model: an interrupted commit is finished (the new version
    /// becomes active), an update that was live but not committed is recorded as rolled back (the store still names
    /// the old version active), and one that had not gone live is kept for <see cref="ResumeInterrupted"/>.
    /// </summary>
    public void Recover()
    {
        UpdateRecord? current = _journal.Current;
        if (current is null)
        {
            return;
        }

        switch (current.Step)
        {
            case UpdateStep.Commit when current is { Model: { } model, Version: { } version, Digest: { } digest } && _store.Contains(digest):
                _store.Commit(model, new InstalledVersion(version, current.Release ?? "", digest));
                Finish(current with { Resumes = current.Resumes + 1 }, UpdateStep.Committed, null,
                    $"{model} v{version} committed; the device stopped during the commit and finished it at start");
                Recovered = LastProgress;
                break;
            case UpdateStep.Commit:
                Finish(current, UpdateStep.Failed, UpdateFailure.StoreFailed,
                    $"the device stopped during the commit and the staged package {current.Digest} is gone; the previous version stays active");
                Recovered = LastProgress;
                break;
            case UpdateStep.Activate or UpdateStep.Health:
                // As after a live rollback, the given-up package leaves the store before the end is reported; no
                // instance of this process pins it, and its archive goes with the job, so nothing would use it again.
                Finish(current with { Resumes = current.Resumes + 1 }, UpdateStep.RolledBack, UpdateFailure.Interrupted,
                    $"the device stopped while {current.Model} v{current.Version} was live and not yet committed; the version before it stays active",
                    beforeReport: current.Digest is { } staged ? () => Discard(current.JobId, staged) : null);
                Recovered = LastProgress;
                break;
            default:
                _resume = current;
                _logger.LogInformation("update {Job}: interrupted at {Step}; it resumes once the loops run", current.JobId, current.Step.ToName());
                break;
        }
    }

    /// <summary>
    /// The stored version the loops of <paramref name="model"/> load at start, when an update installed one and
    /// its package is whole (model.onnx has its signed length and SHA-256); null: the profile's model. A damaged
    /// active package falls back to the rollback target, then to the profile's model, and says so.
    /// </summary>
    public (string ModelPath, InstalledVersion Version)? ActiveModel(string model)
    {
        InstalledModel? installed = _store.Find(model);
        foreach (InstalledVersion? candidate in (InstalledVersion?[])[installed?.Active, installed?.Previous])
        {
            if (candidate is null)
            {
                continue;
            }

            string directory = _store.PathOf(candidate.Digest);
            PackageCheck check = CheckStored(directory);
            if (check.Passed)
            {
                if (!ReferenceEquals(candidate, installed!.Active))
                {
                    _logger.LogError("model {Model}: the active package is damaged; the rollback target v{Version} runs instead", model, candidate.Version);
                }

                return (Path.Combine(directory, PackagePaths.Model), candidate);
            }

            _logger.LogError("model {Model} v{Version}: stored package {Digest} is not whole, not loaded: {Detail}", model, candidate.Version, candidate.Digest, check.Detail);
        }

        if (installed?.Active is not null)
        {
            _logger.LogError("model {Model}: no stored version is whole; the profile's model runs", model);
        }

        return null;
    }

    /// <summary>Resumes the update <see cref="Recover"/> found interrupted before it went live, if any. Call once the loops run.</summary>
    public void ResumeInterrupted()
    {
        lock (_gate)
        {
            if (_resume is not { } record || _running is not null || _disposed)
            {
                return;
            }

            _resume = null;
            record = record with { Resumes = record.Resumes + 1 };
            _logger.LogInformation("update {Job}: resuming ({Url}), restart {Resumes}", record.JobId, record.Url, record.Resumes);
            Launch(record);
        }
    }

    /// <summary>Starts an update from a package archive URL; returns its job id.</summary>
    /// <exception cref="ArgumentException">The URL is not http(s) or the job id breaks its rule.</exception>
    /// <exception cref="UpdateBusyException">Another update is running (or waits to resume).</exception>
    public string Start(Uri url, string? jobId = null)
    {
        ArgumentNullException.ThrowIfNull(url);
        if (!url.IsAbsoluteUri || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
        {
            throw new ArgumentException($"url '{url}' is not an http:// or https:// URL of a package archive (.kpkg)", nameof(url));
        }

        jobId ??= $"u{DateTimeOffset.UtcNow:yyyyMMddHHmmss}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(2))}";
        if (!UpdateJournal.IsValidJobId(jobId))
        {
            throw new ArgumentException($"jobId '{jobId}' is not 1 to 64 of A-Z a-z 0-9 . _ - (not starting with '.')", nameof(jobId));
        }

        if (_journal.History.Any(r => r.JobId == jobId))
        {
            throw new ArgumentException($"jobId '{jobId}' was used by an earlier update (ota.status lists it); every update needs its own id", nameof(jobId));
        }

        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_running is not null || _resume is not null || _rollingBack)
            {
                throw new UpdateBusyException((_running?.Record ?? _resume) is { } other
                    ? $"update {other.JobId} is running; wait for it, or cancel it with ota.cancel"
                    : "a rollback is running; start the update once it is done");
            }

            DateTimeOffset now = DateTimeOffset.UtcNow;
            var record = new UpdateRecord { JobId = jobId, Url = url.AbsoluteUri, Step = UpdateStep.Download, Started = now, Updated = now };
            _journal.Write(record); // persisted before the reply: a crash from here on resumes it
            Launch(record);
            return jobId;
        }
    }

    /// <summary>
    /// Cancels the running update (<paramref name="jobId"/> null: whichever runs). Before activation it ends
    /// <c>failed</c>/<c>cancelled</c>; a live one is rolled back. False when no such update runs.
    /// </summary>
    /// <exception cref="InvalidOperationException">The update is committing; it can only be rolled back afterwards.</exception>
    public bool Cancel(string? jobId)
    {
        lock (_gate)
        {
            if (_running is null && _resume is { } waiting && (jobId is null || waiting.JobId == jobId))
            {
                // Interrupted before it went live and not yet resumed: it ends here, and nothing of it was ever active.
                _resume = null;
                Finish(waiting, UpdateStep.Failed, UpdateFailure.Cancelled, "cancelled by ota.cancel before it resumed");
                return true;
            }

            if (_running is not { } job || (jobId is not null && job.Record.JobId != jobId))
            {
                return false;
            }

            if (job.Record.Step >= UpdateStep.Commit)
            {
                throw new InvalidOperationException($"update {job.Record.JobId} is committing; once it is committed, ota.rollback puts the previous version back");
            }

            job.Cancelled = true;
            job.Stop.Cancel();
            return true;
        }
    }

    /// <summary>Waits until no update runs (for tests and an orderly stop); false on timeout.</summary>
    public bool WaitIdle(TimeSpan timeout)
    {
        Thread? thread;
        lock (_gate)
        {
            thread = _running?.Thread;
        }

        return thread is null || thread.Join(timeout);
    }

    public void Dispose()
    {
        Job? job;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            job = _running;
            job?.Stop.Cancel(); // not Cancelled: the journal keeps the step and the next start resumes or settles it
        }

        if (job is not null && !job.Thread.Join(TimeSpan.FromSeconds(10)))
        {
            _logger.LogWarning("update {Job}: still busy at stop; the journal has its step", job.Record.JobId);
        }
    }

    private void Launch(UpdateRecord record)
    {
        var job = new Job(record);
        job.Thread = new Thread(() => Run(job)) { Name = $"update {record.JobId}", IsBackground = true };
        _running = job;
        job.Thread.Start();
    }

    private PackageCheck CheckStored(string directory)
    {
        PackageCheck manifestCheck = PackageVerifier.ReadManifest(directory, out _, out PackageManifest? manifest);
        return manifestCheck.Passed ? PackageVerifier.CheckFile(directory, manifest!.FindFile(PackagePaths.Model)!) : manifestCheck;
    }

    private void Report(UpdateRecord record, string message, long? bytes = null, long? total = null)
    {
        var progress = new UpdateProgress(record.JobId, record.Step, record.Model, record.Version, record.Release, bytes, total,
            record.Failure is { } code && UpdateFailures.TryParse(code, out UpdateFailure failure) ? failure : null, message, DateTimeOffset.UtcNow);
        Volatile.Write(ref _last, progress);
        try
        {
            _progress(progress);
        }
        catch (Exception e)
        {
            _logger.LogWarning("update {Job}: progress not reported: {Message}", record.JobId, e.Message);
        }
    }

    private void Finish(UpdateRecord record, UpdateStep end, UpdateFailure? failure, string message, Action? beforeReport = null)
    {
        var done = record with { Step = end, Failure = failure?.ToCode(), Message = message, Updated = DateTimeOffset.UtcNow };
        try
        {
            _journal.Write(done);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The end is still reported and the model state stands; the journal keeps its last step for the next start.
            _logger.LogCritical("update {Job}: the journal could not record the end {End}: {Message}", done.JobId, end.ToName(), e.Message);
        }

        var level = end == UpdateStep.Committed ? LogLevel.Information : LogLevel.Warning;
        _logger.Log(level, "update {Job}: {End}{Code}: {Message}", done.JobId, end.ToName(), failure is { } f ? $" [{f.ToCode()}]" : "", message);
        beforeReport?.Invoke();
        Report(done, message);
    }

    /// <summary>One running update: its journal record, how to stop it, and what it swapped so far.</summary>
    private sealed class Job(UpdateRecord record)
    {
        public UpdateRecord Record { get; set; } = record;

        public CancellationTokenSource Stop { get; } = new();

        public Thread Thread { get; set; } = null!;

        /// <summary>Set by ota.cancel, as opposed to the daemon stopping.</summary>
        public volatile bool Cancelled;

        public PackageManifest? Manifest { get; set; }

        public string? ManifestDigest { get; set; }

        /// <summary>Loaded and warmed for each loop of the model, before the swap.</summary>
        public List<(ControlLoop Loop, ModelInstance Next)> Prepared { get; } = [];

        /// <summary>Loops swapped to the new model, with the instance they ran before.</summary>
        public List<(ControlLoop Loop, ModelInstance Previous)> Swapped { get; } = [];

        /// <summary>Each swapped loop's counters just before its swap, what the health window is judged against.</summary>
        public List<HealthSample> HealthBaseline { get; } = [];
    }
}
