namespace Kairo.Updates.Device;

/// <summary>One progress report of an update, as <c>ota/{jobId}</c> carries it (docs/ota.md).</summary>
public sealed record UpdateProgress(
    string JobId,
    UpdateStep Step,
    string? Model,
    long? Version,
    string? Release,
    long? Bytes,
    long? Total,
    UpdateFailure? Failure,
    string Message,
    DateTimeOffset Timestamp)
{
    public bool Finished => Step is UpdateStep.Committed or UpdateStep.Failed or UpdateStep.RolledBack;
}

/// <summary>The names of <see cref="UpdateStep"/> in the journal, on <c>ota/{jobId}</c> and in commands.</summary>
public static class UpdateSteps
{
    public static string ToName(this UpdateStep step) => step switch
    {
        UpdateStep.Download => "download",
        UpdateStep.Verify => "verify",
        UpdateStep.Stage => "stage",
        UpdateStep.Validate => "validate",
        UpdateStep.Activate => "activate",
        UpdateStep.Health => "health",
        UpdateStep.Commit => "commit",
        UpdateStep.Committed => "committed",
        UpdateStep.Failed => "failed",
        UpdateStep.RolledBack => "rolled_back",
        _ => throw new ArgumentOutOfRangeException(nameof(step), step, "not an update step"),
    };
}

/// <summary>How the device runs updates (the profile's <c>updates</c> section).</summary>
public sealed record UpdateAgentOptions
{
    public DownloadOptions Download { get; init; } = new();

    /// <summary>How long a new model runs before it is committed.</summary>
    public TimeSpan HealthWindow { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The share of the window's ticks that may miss their deadline; more rolls the update back.</summary>
    public double MaxMissRatio { get; init; } = 0.01;

    /// <summary>How long a loop may take to reach a tick boundary for a swap.</summary>
    public TimeSpan SwapTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Points where a job stops and waits to be killed: step names, <c>download.body</c> (mid-transfer) and
    /// <c>stage.write</c> (mid-store-write). For crash tests only (<c>KAIRO_UPDATE_PAUSE</c>); empty in service.
    /// </summary>
    public IReadOnlySet<string> PauseAt { get; init; } = new HashSet<string>();
}

/// <summary>Another update is running; the device runs one at a time.</summary>
public sealed class UpdateBusyException(string message) : Exception(message);
