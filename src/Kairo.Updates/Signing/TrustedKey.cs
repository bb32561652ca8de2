using System.Security.Cryptography;

namespace Kairo.Updates.Signing;

/// <summary>
/// A public key whose signatures a device accepts: ECDSA on P-256, kept as its SubjectPublicKeyInfo DER. Its
/// <see cref="KeyId"/> is the lowercase hex SHA-256 of that DER, so the id follows from the key and cannot be chosen.
/// </summary>
public sealed class TrustedKey
{
    /// <summary>The largest key file read; a PEM public key is about 180 bytes.</summary>
    public const int MaxFileBytes = 16 << 10;

    private const string PemLabel = "PUBLIC KEY";
    private readonly byte[] _subjectPublicKeyInfo;

    private TrustedKey(byte[] subjectPublicKeyInfo)
    {
        _subjectPublicKeyInfo = subjectPublicKeyInfo;
        KeyId = KeyIdOf(subjectPublicKeyInfo);
    }

    /// <summary>64 lowercase hex digits: SHA-256 of the SubjectPublicKeyInfo DER.</summary>
    public string KeyId { get; }

    public ReadOnlySpan<byte> SubjectPublicKeyInfo => _subjectPublicKeyInfo;

    /// <summary>A key from its SubjectPublicKeyInfo DER; refuses anything but a valid P-256 point.</summary>
    public static TrustedKey FromSubjectPublicKeyInfo(ReadOnlySpan<byte> der)
    {
        using var key = ECDsa.Create();
        try
        {
            key.ImportSubjectPublicKeyInfo(der, out int read);
            if (read != der.Length)
            {
                throw new CryptographicException($"{der.Length - read} bytes follow the key");
            }
        }
        catch (CryptographicException ex)
        {
            throw new FormatException($"not an ECDSA public key: {ex.Message}", ex);
        }

        KeyPem.RequireP256(key);
        return new TrustedKey(key.ExportSubjectPublicKeyInfo());
    }

    /// <summary>A key from PEM text holding one <c>-----BEGIN PUBLIC KEY-----</c> block.</summary>
    public static TrustedKey FromPem(string pem) => FromSubjectPublicKeyInfo(KeyPem.Decode(pem, PemLabel));

    /// <summary>A key from a PEM file (<c>NAME.pub</c>); the message of a refusal names the file.</summary>
    public static TrustedKey Load(string path)
    {
        try
        {
            return FromPem(KeyPem.ReadFile(path));
        }
        catch (FormatException ex)
        {
            throw new FormatException($"{path}: {ex.Message}", ex);
        }
    }

    /// <summary>The key as PEM, <c>-----BEGIN PUBLIC KEY-----</c>, ending in a newline.</summary>
    public string ToPem() => PemEncoding.WriteString(PemLabel, _subjectPublicKeyInfo) + "\n";

    /// <summary>
    /// True when <paramref name="signature"/> (IEEE P1363 r‖s, 64 bytes) is this key's ECDSA signature over the
    /// SHA-256 of <paramref name="data"/>.
    /// </summary>
    public bool Verify(ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        if (signature.Length != SignatureAlgorithm.SignatureBytes)
        {
            return false;
        }

        using var key = ECDsa.Create();
        key.ImportSubjectPublicKeyInfo(_subjectPublicKeyInfo, out _);
        return key.VerifyData(data, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
    }

    /// <summary>The key id of a SubjectPublicKeyInfo DER.</summary>
    public static string KeyIdOf(ReadOnlySpan<byte> subjectPublicKeyInfo) => Convert.ToHexStringLower(SHA256.HashData(subjectPublicKeyInfo));

    public override string ToString() => KeyId;
}

/// <summary>The one signature algorithm of a package.</summary>
public static class SignatureAlgorithm
{
    /// <summary>ECDSA on NIST P-256 over SHA-256, the signature as IEEE P1363 r‖s.</summary>
    public const string EcdsaP256Sha256 = "ecdsa-p256-sha256";

    public const int SignatureBytes = 64;
}

/// <summary>PEM reading and writing shared by the key types.</summary>
internal static class KeyPem
{
    private static readonly string[] P256Names = ["nistP256", "ECDSA_P256", "secp256r1", "prime256v1"];
    private const string P256Oid = "1.2.840.10045.3.1.7";

    /// <summary>The DER of the one PEM block in <paramref name="pem"/>, which must carry <paramref name="label"/>.</summary>
    public static byte[] Decode(string pem, string label)
    {
        if (!PemEncoding.TryFind(pem, out PemFields fields))
        {
            throw new FormatException($"no PEM block; expected -----BEGIN {label}-----");
        }

        string found = pem[fields.Label];
        if (found != label)
        {
            throw new FormatException($"the PEM block is {found}, expected {label}");
        }

        if (!string.IsNullOrWhiteSpace(pem[fields.Location.End..]) || !string.IsNullOrWhiteSpace(pem[..fields.Location.Start]))
        {
            throw new FormatException($"the file holds more than one {label} block; give one key per file");
        }

        return Convert.FromBase64String(pem[fields.Base64Data]);
    }

    public static string ReadFile(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        var buffer = new byte[TrustedKey.MaxFileBytes + 1];
        int total = 0;
        for (int read; total < buffer.Length && (read = stream.Read(buffer, total, buffer.Length - total)) > 0;)
        {
            total += read;
        }

        if (total > TrustedKey.MaxFileBytes)
        {
            throw new FormatException($"more than {TrustedKey.MaxFileBytes} bytes; a PEM key is a few hundred");
        }

        try
        {
            return new System.Text.UTF8Encoding(false, true).GetString(buffer, 0, total);
        }
        catch (System.Text.DecoderFallbackException)
        {
            throw new FormatException("not text; a key file is PEM");
        }
        finally
        {
            CryptographicOperations.ZeroMemory(buffer);
        }
    }

    public static void RequireP256(ECDsa key)
    {
        ECCurve curve = key.ExportParameters(false).Curve;
        bool p256 = key.KeySize == 256 && curve.IsNamed
            && (curve.Oid.Value == P256Oid || P256Names.Contains(curve.Oid.FriendlyName, StringComparer.OrdinalIgnoreCase));
        if (!p256)
        {
            throw new FormatException($"the key is on {curve.Oid.FriendlyName ?? curve.Oid.Value ?? "an unnamed curve"} ({key.KeySize} bits); packages are signed with P-256 keys (kairoctl keygen)");
        }
    }
}
