using System.Globalization;
using Kairo.Onnx;
using Kairo.Updates.Signing;

namespace Kairo.Updates.Packages;

/// <summary>
/// Decides whether a package directory may be trusted: manifest (bounded, every rule) → signatures (k of n distinct
/// trusted keys) → expiry → each listed file's length, then SHA-256 → no unlisted files → the model's inputs and
/// outputs as ONNX Runtime loads them. Checks stop at the first failure; nothing a check has not passed is parsed
/// by the next (ONNX Runtime sees the model only once its hash matched a signed manifest).
/// Checks that need the device's state (installed version, board, versions, loop) are separate methods, as is
/// the golden run (<see cref="GoldenGate"/>). One verifier may verify packages from several threads at once.
/// </summary>
public sealed partial class PackageVerifier
{
    private readonly Dictionary<string, TrustedKey> _keys;

    /// <param name="trustedKeys">The keys whose signatures count; a key given twice counts once.</param>
    /// <param name="threshold">How many distinct trusted keys must have signed: 1 ≤ k ≤ the number of keys.</param>
    /// <param name="clock">The time expiry is judged by; the system clock by default.</param>
    public PackageVerifier(IEnumerable<TrustedKey> trustedKeys, int threshold, TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(trustedKeys);
        _keys = new Dictionary<string, TrustedKey>(StringComparer.Ordinal);
        foreach (TrustedKey key in trustedKeys)
        {
            _keys.TryAdd(key.KeyId, key);
        }

        if (_keys.Count == 0)
        {
            throw new ArgumentException("no trusted keys: a package can only be verified against at least one public key", nameof(trustedKeys));
        }

        if (threshold < 1 || threshold > _keys.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(threshold), threshold,
                $"the threshold must be between 1 and the {_keys.Count} distinct trusted keys");
        }

        Threshold = threshold;
        Clock = clock ?? TimeProvider.System;
    }

    public IReadOnlyCollection<TrustedKey> TrustedKeys => _keys.Values;

    public int Threshold { get; }

    public TimeProvider Clock { get; }

    /// <summary>How the model is loaded for its signature check; one thread, errors only, by default.</summary>
    public SessionOptions ModelSessionOptions { get; init; } = new() { IntraOpThreads = 1, InterOpThreads = 1, LogSeverity = 4 };

    /// <summary>Runs every device-independent check on the package in <paramref name="directory"/>. ONNX Runtime must be loaded.</summary>
    public PackageVerification Verify(string directory, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var checks = new List<PackageCheck>();
        PackageManifest? manifest = null;
        SignatureReport? signatures = null;

        PackageVerification Done() => new(checks, manifest, signatures);

        PackageCheck manifestCheck = ReadManifest(directory, out byte[]? manifestBytes, out manifest);
        checks.Add(manifestCheck);
        if (!manifestCheck.Passed)
        {
            return Done();
        }

        signatures = CheckSignatures(directory, manifestBytes!);
        checks.Add(signatures.Check);
        if (!signatures.Check.Passed)
        {
            return Done();
        }

        foreach (Func<PackageCheck> next in (Func<PackageCheck>[])
            [
                () => CheckExpiry(manifest!),
                () => CheckFiles(directory, manifest!, cancellationToken),
                () => CheckUnlisted(directory, manifest!),
                () => CheckModel(directory, manifest!, ModelSessionOptions),
            ])
        {
            cancellationToken.ThrowIfCancellationRequested();
            PackageCheck check = next();
            checks.Add(check);
            if (!check.Passed)
            {
                break;
            }
        }

        return Done();
    }

    /// <summary>Reads manifest.json (at most <see cref="PackageManifest.MaxBytes"/>) and parses it.</summary>
    public static PackageCheck ReadManifest(string directory, out byte[]? bytes, out PackageManifest? manifest)
    {
        bytes = null;
        manifest = null;
        string path = Path.Combine(directory, PackagePaths.Manifest);
        if (PackageFiles.Refusal(directory, PackagePaths.Manifest) is { } refusal)
        {
            return refusal.Failure == UpdateFailure.FileMissing
                ? PackageCheck.Fail("manifest", UpdateFailure.ManifestInvalid, $"no {PackagePaths.Manifest} in {directory}: is it a package directory?")
                : refusal with { Name = "manifest" };
        }

        try
        {
            bytes = PackageFiles.ReadBounded(path, PackageManifest.MaxBytes);
            if (bytes is null)
            {
                return PackageCheck.Fail("manifest", UpdateFailure.ManifestInvalid, $"{PackagePaths.Manifest} is larger than the {PackageManifest.MaxBytes} bytes a manifest may have");
            }

            manifest = PackageManifest.Parse(bytes);
        }
        catch (UpdateException ex)
        {
            return PackageCheck.Fail("manifest", ex.Failure, ex.Message);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return PackageCheck.Fail("manifest", UpdateFailure.ManifestInvalid, $"cannot read {path}: {ex.Message}");
        }

        return PackageCheck.Pass("manifest", string.Create(CultureInfo.InvariantCulture,
            $"{manifest}, {manifest.Files.Count} files, {manifest.TotalLength} bytes, created {UtcTimestamp.Format(manifest.Created)}"));
    }

    /// <summary>Reads signatures.json from <paramref name="directory"/> (absent: no signatures) and counts the valid ones.</summary>
    public SignatureReport CheckSignatures(string directory, ReadOnlySpan<byte> manifestBytes)
    {
        IReadOnlyList<PackageSignature> signatures = [];
        string path = Path.Combine(directory, PackagePaths.Signatures);
        if (PackageFiles.Refusal(directory, PackagePaths.Signatures) is { } refusal)
        {
            if (refusal.Failure != UpdateFailure.FileMissing)
            {
                return Report([], [], [], refusal with { Name = "signatures" });
            }
        }
        else
        {
            try
            {
                byte[] bytes = PackageFiles.ReadBounded(path, PackageSignatures.MaxBytes)
                    ?? throw new UpdateException(UpdateFailure.SignatureInvalid, $"{PackagePaths.Signatures} is larger than {PackageSignatures.MaxBytes} bytes");
                signatures = PackageSignatures.Parse(bytes);
            }
            catch (UpdateException ex)
            {
                return Report([], [], [], PackageCheck.Fail("signatures", ex.Failure, ex.Message));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return Report([], [], [], PackageCheck.Fail("signatures", UpdateFailure.SignatureInvalid, $"cannot read {path}: {ex.Message}"));
            }
        }

        return CheckSignatures(manifestBytes, signatures);
    }

    /// <summary>
    /// Counts valid signatures over <paramref name="manifestBytes"/> from distinct trusted keys. Fewer than the
    /// threshold fails: <c>signature_invalid</c> when a trusted key's signature did not verify, else
    /// <c>key_unknown</c> when every signature is by an unknown key, else <c>signature_threshold</c>.
    /// </summary>
    public SignatureReport CheckSignatures(ReadOnlySpan<byte> manifestBytes, IReadOnlyList<PackageSignature> signatures)
    {
        ArgumentNullException.ThrowIfNull(signatures);
        var valid = new List<string>();
        var invalid = new List<string>();
        var unknown = new List<string>();
        Span<byte> signature = stackalloc byte[SignatureAlgorithm.SignatureBytes];
        foreach (PackageSignature entry in signatures)
        {
            if (!_keys.TryGetValue(entry.KeyId, out TrustedKey? key))
            {
                if (!unknown.Contains(entry.KeyId))
                {
                    unknown.Add(entry.KeyId);
                }

                continue;
            }

            if (valid.Contains(key.KeyId))
            {
                continue; // one key counts once, however often it signed
            }

            bool verified = entry.Algorithm == SignatureAlgorithm.EcdsaP256Sha256
                && Convert.TryFromBase64String(entry.Signature, signature, out int length)
                && length == SignatureAlgorithm.SignatureBytes
                && key.Verify(manifestBytes, signature);
            if (verified)
            {
                valid.Add(key.KeyId);
                invalid.Remove(key.KeyId);
            }
            else if (!invalid.Contains(key.KeyId))
            {
                invalid.Add(key.KeyId);
            }
        }

        string counted = $"{valid.Count} of {Threshold} required valid signatures from trusted keys";
        string notes = (invalid.Count > 0 ? $"; did not verify: {Short(invalid)}" : "") + (unknown.Count > 0 ? $"; unknown keys ignored: {Short(unknown)}" : "");
        PackageCheck check;
        if (valid.Count >= Threshold)
        {
            check = PackageCheck.Pass("signatures", $"{counted} ({Short(valid)}){notes}");
        }
        else if (invalid.Count > 0)
        {
            check = PackageCheck.Fail("signatures", UpdateFailure.SignatureInvalid,
                $"{counted}: a signature by a trusted key does not verify over manifest.json{notes}. The manifest or the signature was changed after signing; sign the package again");
        }
        else if (valid.Count == 0 && unknown.Count > 0)
        {
            check = PackageCheck.Fail("signatures", UpdateFailure.KeyUnknown,
                $"{counted}: no signature is by a trusted key{notes}. Sign with a key the device trusts, or add its public key to the trusted keys");
        }
        else
        {
            check = PackageCheck.Fail("signatures", UpdateFailure.SignatureThreshold,
                signatures.Count == 0
                    ? $"{counted}: the package is not signed. Sign it (kairoctl sign DIR --key NAME.key)"
                    : $"{counted}{(valid.Count > 0 ? $" ({Short(valid)})" : "")}{notes}. Sign with more trusted keys");
        }

        return Report(valid, invalid, unknown, check);
    }

    /// <summary>Fails once the clock has reached the manifest's expiry.</summary>
    public PackageCheck CheckExpiry(PackageManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        DateTimeOffset now = Clock.GetUtcNow();
        string expires = UtcTimestamp.Format(manifest.Expires);
        return now >= manifest.Expires
            ? PackageCheck.Fail("expiry", UpdateFailure.Expired,
                $"the package expired at {expires} (now {UtcTimestamp.Format(now)}); the publisher must pack and sign it again with a later expiry")
            : PackageCheck.Pass("expiry", $"expires {expires}, in {FormatSpan(manifest.Expires - now)}");
    }

    private SignatureReport Report(List<string> valid, List<string> invalid, List<string> unknown, PackageCheck check) =>
        new(Threshold, valid, invalid, unknown, check);

    /// <summary>Key ids shortened to 16 hex digits, which is how people compare them.</summary>
    private static string Short(IEnumerable<string> keyIds) => string.Join(", ", keyIds.Select(k => k.Length > 16 ? k[..16] : k));

    private static string FormatSpan(TimeSpan span) =>
        span.TotalDays >= 2 ? $"{(int)span.TotalDays} days" : span.TotalHours >= 2 ? $"{(int)span.TotalHours} hours" : $"{Math.Max(0, (int)span.TotalMinutes)} minutes";
}
