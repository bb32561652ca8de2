using Kairo.Onnx.TestData;

namespace Kairo.Updates.Packages;

/// <summary>
/// What manifest.json says about a package: the model, its version, where it may run, what its inputs and outputs
/// are, how its golden vectors are judged, when the package expires, and every other file with its length and
/// SHA-256. Signatures cover the exact bytes of manifest.json; this type is what those bytes parse to.
/// </summary>
public sealed partial record PackageManifest
{
    public const int CurrentSchema = 1;

    /// <summary>The largest manifest.json read: a manifest is a few KiB; more is a package to refuse, not to parse.</summary>
    public const int MaxBytes = 1 << 20;

    /// <summary>The most files a manifest may list.</summary>
    public const int MaxFiles = 10_000;

    /// <summary>The board name that means every board.</summary>
    public const string AnyBoard = "*";

    public int Schema { get; init; } = CurrentSchema;

    /// <summary>The model's name, e.g. <c>pilotnet</c>: <c>A-Z a-z 0-9 . _ -</c>, up to 64 characters.</summary>
    public required string Model { get; init; }

    /// <summary>Monotonic, ≥ 1: a device installs only a version above every one it has installed.</summary>
    public required long Version { get; init; }

    /// <summary>A free-form release name for people, e.g. <c>2025.06-rc1</c>.</summary>
    public required string Release { get; init; }

    /// <summary>Board names the package runs on, or just <see cref="AnyBoard"/>.</summary>
    public required IReadOnlyList<string> CompatibleBoards { get; init; }

    /// <summary>The oldest Kairo that may run the package, e.g. <c>0.1.0</c>.</summary>
    public required string MinKairoVersion { get; init; }

    public required RuntimeRequirement Runtime { get; init; }

    /// <summary>The model's inputs and outputs, as ONNX Runtime reports them.</summary>
    public required ModelSignature Signature { get; init; }

    /// <summary>How far the golden outputs may stray.</summary>
    public required Tolerance Tolerance { get; init; }

    /// <summary>The p99 latency of the golden runs on the device must be under this.</summary>
    public required double LatencyBudgetMs { get; init; }

    /// <summary>After this instant (UTC) no device accepts the package.</summary>
    public required DateTimeOffset Expires { get; init; }

    public required DateTimeOffset Created { get; init; }

    /// <summary>Every file of the package but manifest.json and signatures.json.</summary>
    public required IReadOnlyList<PackageFile> Files { get; init; }

    /// <summary>The listed file at <paramref name="path"/>, or null.</summary>
    public PackageFile? FindFile(string path) => Files.FirstOrDefault(f => string.Equals(f.Path, path, StringComparison.Ordinal));

    /// <summary>The sum of the listed files' lengths.</summary>
    public long TotalLength => Files.Sum(f => f.Length);

    public override string ToString() => $"{Model} v{Version} ({Release})";
}

/// <summary>The ONNX Runtime the package needs.</summary>
/// <param name="OnnxRuntime">The oldest ONNX Runtime version, e.g. <c>1.20.0</c>.</param>
public sealed record RuntimeRequirement(string OnnxRuntime);

/// <summary>
/// A model's inputs and outputs in model order, each as ONNX Runtime prints it: <c>camera: float[1,3,66,200]</c>,
/// with a dimension the model leaves open shown by its name (<c>observation: float[batch,48]</c>) or <c>?</c>.
/// </summary>
public sealed record ModelSignature(IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs)
{
    public bool Equals(ModelSignature? other) =>
        other is not null && Inputs.SequenceEqual(other.Inputs, StringComparer.Ordinal) && Outputs.SequenceEqual(other.Outputs, StringComparer.Ordinal);

    public override int GetHashCode() => HashCode.Combine(Inputs.Count, Outputs.Count);

    public override string ToString() => $"inputs {string.Join(", ", Inputs)}; outputs {string.Join(", ", Outputs)}";
}

/// <summary>One file of a package: where, how long, and its SHA-256 as 64 lowercase hex digits.</summary>
public sealed record PackageFile(string Path, string Sha256, long Length);
