using System.Security.Cryptography;
using System.Text;

namespace Kairo.Updates.Signing;

/// <summary>
/// A private ECDSA P-256 key that signs manifests. Its file is PEM PKCS#8 (<c>-----BEGIN PRIVATE KEY-----</c>),
/// unencrypted and created with mode 0600; its public half is PEM SubjectPublicKeyInfo, mode 0644.
/// </summary>
public sealed class SigningKey : IDisposable
{
    private const string PemLabel = "PRIVATE KEY";
    private const UnixFileMode PrivateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode PublicMode = PrivateMode | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    private readonly ECDsa _key;

    private SigningKey(ECDsa key)
    {
        _key = key;
        PublicKey = TrustedKey.FromSubjectPublicKeyInfo(key.ExportSubjectPublicKeyInfo());
    }

    public TrustedKey PublicKey { get; }

    /// <summary>The id of <see cref="PublicKey"/>, which signatures name.</summary>
    public string KeyId => PublicKey.KeyId;

    public static SigningKey Generate() => new(ECDsa.Create(ECCurve.NamedCurves.nistP256));

    /// <summary>A key from PEM text holding one <c>-----BEGIN PRIVATE KEY-----</c> (PKCS#8) block.</summary>
    public static SigningKey FromPem(string pem)
    {
        byte[] der = KeyPem.Decode(pem, PemLabel);
        var key = ECDsa.Create();
        try
        {
            key.ImportPkcs8PrivateKey(der, out int read);
            if (read != der.Length)
            {
                throw new FormatException($"{der.Length - read} bytes follow the key");
            }

            KeyPem.RequireP256(key);
            return new SigningKey(key);
        }
        catch (CryptographicException ex)
        {
            key.Dispose();
            throw new FormatException($"not an ECDSA private key: {ex.Message}", ex);
        }
        catch
        {
            key.Dispose();
            throw;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(der);
        }
    }

    /// <summary>A key from its PEM file (<c>NAME.key</c>); the message of a refusal names the file.</summary>
    public static SigningKey Load(string path)
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

    /// <summary>The ECDSA signature over SHA-256 of <paramref name="data"/>, IEEE P1363 r‖s (64 bytes).</summary>
    public byte[] Sign(ReadOnlySpan<byte> data) =>
        _key.SignData(data, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);

    /// <summary>This key's entry for signatures.json over the exact bytes of manifest.json.</summary>
    public PackageSignature SignManifest(ReadOnlySpan<byte> manifest) =>
        new(KeyId, SignatureAlgorithm.EcdsaP256Sha256, Convert.ToBase64String(Sign(manifest)));

    /// <summary>
    /// Writes the private key to <paramref name="privateKeyPath"/> (mode 0600, created only if absent) and the public
    /// key to <paramref name="publicKeyPath"/> (0644, likewise). Each file appears whole or not at all.
    /// </summary>
    /// <exception cref="IOException">A file exists already: keys are never overwritten.</exception>
    public void Save(string privateKeyPath, string publicKeyPath)
    {
        foreach (string path in (string[])[privateKeyPath, publicKeyPath])
        {
            if (File.Exists(path) || Directory.Exists(path))
            {
                throw new IOException($"{path} exists; a key is never overwritten: choose another name or remove the old key first");
            }
        }

        byte[] pkcs8 = _key.ExportPkcs8PrivateKey();
        char[] pem = PemEncoding.Write(PemLabel, pkcs8);
        byte[] text = new byte[Encoding.ASCII.GetByteCount(pem) + 1];
        try
        {
            Encoding.ASCII.GetBytes(pem, text);
            text[^1] = (byte)'\n';
            WriteNew(privateKeyPath, text, PrivateMode);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pkcs8);
            Array.Clear(pem);
            CryptographicOperations.ZeroMemory(text);
        }

        WriteNew(publicKeyPath, Encoding.ASCII.GetBytes(PublicKey.ToPem()), PublicMode);
    }

    public void Dispose() => _key.Dispose();

    /// <summary>Writes a temporary file created with <paramref name="mode"/>, then moves it to a name that must not exist.</summary>
    private static void WriteNew(string path, byte[] content, UnixFileMode mode)
    {
        string target = Path.GetFullPath(path);
        string temporary = $"{target}.{Path.GetRandomFileName()}.tmp";
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            // Set at creation, so the key is never readable by others, not even for a moment.
            options.UnixCreateMode = mode;
        }

        try
        {
            using (var stream = new FileStream(temporary, options))
            {
                stream.Write(content);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, target, overwrite: false);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }
}
