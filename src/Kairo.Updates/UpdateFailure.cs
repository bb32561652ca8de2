namespace Kairo.Updates;

/// <summary>
/// Why an update was refused. Each reason has a stable snake_case code (<see cref="UpdateFailures.ToCode"/>) that
/// errors, the update journal and <c>ota/{jobId}</c> carry; a code is never renamed or given another meaning. The
/// numbers are stable too and grouped by stage, with room in each group.
/// </summary>
public enum UpdateFailure
{
    /// <summary><c>manifest_invalid</c>: manifest.json is missing, too large, not JSON, or breaks a rule of the format.</summary>
    ManifestInvalid = 10,

    /// <summary><c>package_invalid</c>: the package holds what no package may (a link, a device file, a bad archive entry).</summary>
    PackageInvalid = 11,

    /// <summary><c>signature_invalid</c>: a signature by a trusted key does not verify, or signatures.json is malformed.</summary>
    SignatureInvalid = 20,

    /// <summary><c>signature_threshold</c>: fewer valid signatures from distinct trusted keys than the threshold.</summary>
    SignatureThreshold = 21,

    /// <summary><c>key_unknown</c>: the package is signed, but by no trusted key.</summary>
    KeyUnknown = 22,

    /// <summary><c>expired</c>: the manifest's expiry has passed.</summary>
    Expired = 23,

    /// <summary><c>file_missing</c>: a file the manifest lists is not in the package.</summary>
    FileMissing = 30,

    /// <summary><c>file_length</c>: a listed file is longer or shorter than signed.</summary>
    FileLength = 31,

    /// <summary><c>file_hash</c>: a listed file's SHA-256 differs from the signed one.</summary>
    FileHash = 32,

    /// <summary><c>file_unlisted</c>: the package holds a file (or directory) the manifest does not list.</summary>
    FileUnlisted = 33,

    /// <summary><c>version_not_newer</c>: the package's version is not above the newest one installed.</summary>
    VersionNotNewer = 40,

    /// <summary><c>board_incompatible</c>: the package does not list this board.</summary>
    BoardIncompatible = 41,

    /// <summary><c>runtime_incompatible</c>: this Kairo or ONNX Runtime is older than the package needs.</summary>
    RuntimeIncompatible = 42,

    /// <summary><c>signature_mismatch</c>: the model's inputs and outputs differ from the manifest's, or do not fit the loop.</summary>
    SignatureMismatch = 43,

    /// <summary><c>model_invalid</c>: ONNX Runtime refuses to load the (verified) model.</summary>
    ModelInvalid = 44,

    /// <summary><c>golden_mismatch</c>: the golden vectors do not reproduce within the manifest's tolerance.</summary>
    GoldenMismatch = 50,

    /// <summary><c>latency_budget</c>: the p99 latency of the golden runs is not under the manifest's budget.</summary>
    LatencyBudget = 51,

    /// <summary><c>model_unknown</c>: no loop of this device runs the package's model.</summary>
    ModelUnknown = 45,

    /// <summary><c>download_failed</c>: the package could not be fetched (HTTP error, refused or lost connection) in the attempts allowed.</summary>
    DownloadFailed = 60,

    /// <summary><c>download_stalled</c>: the last of the attempts allowed ended because the transfer stayed under the minimum throughput for a whole window.</summary>
    DownloadStalled = 61,

    /// <summary><c>no_space</c>: the state directory's file system lacks room for the package and its staged copy.</summary>
    NoSpace = 62,

    /// <summary><c>store_failed</c>: the package could not be written to the model store (an I/O error).</summary>
    StoreFailed = 63,

    /// <summary><c>cancelled</c>: an operator cancelled the update before it was committed.</summary>
    Cancelled = 64,

    /// <summary><c>health_failed</c>: after activation the loop failed its health window (errors, NaN outputs, deadline misses); rolled back.</summary>
    HealthFailed = 70,

    /// <summary><c>interrupted</c>: the device stopped while the new model was live but not yet committed; the old model was kept.</summary>
    Interrupted = 71,
}

/// <summary>The stable codes of <see cref="UpdateFailure"/>.</summary>
public static class UpdateFailures
{
    /// <summary>The reason's code, e.g. <c>file_hash</c>.</summary>
    public static string ToCode(this UpdateFailure failure) => failure switch
    {
        UpdateFailure.ManifestInvalid => "manifest_invalid",
        UpdateFailure.PackageInvalid => "package_invalid",
        UpdateFailure.SignatureInvalid => "signature_invalid",
        UpdateFailure.SignatureThreshold => "signature_threshold",
        UpdateFailure.KeyUnknown => "key_unknown",
        UpdateFailure.Expired => "expired",
        UpdateFailure.FileMissing => "file_missing",
        UpdateFailure.FileLength => "file_length",
        UpdateFailure.FileHash => "file_hash",
        UpdateFailure.FileUnlisted => "file_unlisted",
        UpdateFailure.VersionNotNewer => "version_not_newer",
        UpdateFailure.BoardIncompatible => "board_incompatible",
        UpdateFailure.RuntimeIncompatible => "runtime_incompatible",
        UpdateFailure.SignatureMismatch => "signature_mismatch",
        UpdateFailure.ModelInvalid => "model_invalid",
        UpdateFailure.GoldenMismatch => "golden_mismatch",
        UpdateFailure.LatencyBudget => "latency_budget",
        UpdateFailure.ModelUnknown => "model_unknown",
        UpdateFailure.DownloadFailed => "download_failed",
        UpdateFailure.DownloadStalled => "download_stalled",
        UpdateFailure.NoSpace => "no_space",
        UpdateFailure.StoreFailed => "store_failed",
        UpdateFailure.Cancelled => "cancelled",
        UpdateFailure.HealthFailed => "health_failed",
        UpdateFailure.Interrupted => "interrupted",
        _ => throw new ArgumentOutOfRangeException(nameof(failure), failure, "not an update failure reason"),
    };

    /// <summary>The reason a code names; false for a code this Kairo does not know.</summary>
    public static bool TryParse(string? code, out UpdateFailure failure)
    {
        foreach (UpdateFailure candidate in Enum.GetValues<UpdateFailure>())
        {
            if (string.Equals(candidate.ToCode(), code, StringComparison.Ordinal))
            {
                failure = candidate;
                return true;
            }
        }

        failure = default;
        return false;
    }
}

/// <summary>An update refused for a <see cref="Failure"/> reason; the message names the file or field, the value and the fix.</summary>
public sealed class UpdateException : Exception
{
    public UpdateException(UpdateFailure failure, string message, Exception? inner = null)
        : base(message, inner)
    {
        Failure = failure;
    }

    public UpdateFailure Failure { get; }

    /// <summary>The stable code of <see cref="Failure"/>.</summary>
    public string Code => Failure.ToCode();
}
