namespace Kairo.Updates.Packages;

/// <summary>
/// The outcome of one check of a package: its name (<c>manifest</c>, <c>signatures</c>, <c>expiry</c>, <c>files</c>,
/// <c>unlisted</c>, <c>model</c>, <c>version</c>, <c>board</c>, <c>runtime</c>, <c>loop</c>, <c>golden</c>,
/// <c>latency</c>), whether it passed, and one line saying what was found.
/// </summary>
public sealed record PackageCheck(string Name, UpdateFailure? Failure, string Detail)
{
    public bool Passed => Failure is null;

    public static PackageCheck Pass(string name, string detail) => new(name, null, detail);

    public static PackageCheck Fail(string name, UpdateFailure failure, string detail) => new(name, failure, detail);

    /// <summary>Throws the check's failure as an <see cref="UpdateException"/>; does nothing when it passed.</summary>
    public void ThrowIfFailed()
    {
        if (Failure is { } failure)
        {
            throw new UpdateException(failure, Detail);
        }
    }

    /// <summary><c>ok    files       7 files ...</c> or <c>FAIL  files       [file_hash] model.onnx: ...</c>.</summary>
    public override string ToString() => Failure is { } failure ? $"FAIL  {Name,-10}  [{failure.ToCode()}] {Detail}" : $"ok    {Name,-10}  {Detail}";
}

/// <summary>What <see cref="PackageVerifier.Verify"/> found: the checks in the order they ran, up to the first that failed.</summary>
public sealed class PackageVerification
{
    internal PackageVerification(IReadOnlyList<PackageCheck> checks, PackageManifest? manifest, SignatureReport? signatures)
    {
        Checks = checks;
        Manifest = manifest;
        Signatures = signatures;
    }

    public IReadOnlyList<PackageCheck> Checks { get; }

    /// <summary>The parsed manifest, once it parsed (even if a later check failed); trust it only when <see cref="Passed"/>.</summary>
    public PackageManifest? Manifest { get; }

    public SignatureReport? Signatures { get; }

    public bool Passed => Checks.Count > 0 && Checks.All(c => c.Passed);

    /// <summary>The check that failed, or null.</summary>
    public PackageCheck? FailedCheck => Checks.FirstOrDefault(c => !c.Passed);

    public UpdateFailure? Failure => FailedCheck?.Failure;
}

/// <summary>
/// Which signatures counted: valid ones from distinct trusted keys, ones by trusted keys that did not verify, and key
/// ids no trusted key has (ignored, reported).
/// </summary>
public sealed record SignatureReport(
    int Threshold,
    IReadOnlyList<string> ValidKeyIds,
    IReadOnlyList<string> InvalidKeyIds,
    IReadOnlyList<string> UnknownKeyIds,
    PackageCheck Check);
