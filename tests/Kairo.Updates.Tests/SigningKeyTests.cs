using System.Security.Cryptography;
using System.Text;
using Kairo.Updates.Signing;

namespace Kairo.Updates.Tests;

/// <summary>Key files, key ids and the signature format.</summary>
public sealed class SigningKeyTests : IDisposable
{
    private readonly ScratchDirectory _scratch = new();

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public void SavedKeysAreOwnerOnlyPrivateAndReadablePublic()
    {
        using var key = SigningKey.Generate();
        string privatePath = _scratch.Combine("release.key");
        string publicPath = _scratch.Combine("release.pub");

        key.Save(privatePath, publicPath);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(privatePath));
        UnixFileMode publicMode = File.GetUnixFileMode(publicPath);
        Assert.True(publicMode.HasFlag(UnixFileMode.UserRead));
        Assert.False(publicMode.HasFlag(UnixFileMode.GroupWrite) || publicMode.HasFlag(UnixFileMode.OtherWrite));
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----\n", File.ReadAllText(privatePath));
        Assert.StartsWith("-----BEGIN PUBLIC KEY-----\n", File.ReadAllText(publicPath));
        Assert.Empty(Directory.EnumerateFiles(_scratch.Path, "*.tmp"));
    }

    [Fact]
    public void ALoadedKeyIsTheSavedKey()
    {
        using var key = SigningKey.Generate();
        key.Save(_scratch.Combine("k.key"), _scratch.Combine("k.pub"));

        using var loaded = SigningKey.Load(_scratch.Combine("k.key"));
        TrustedKey trusted = TrustedKey.Load(_scratch.Combine("k.pub"));

        Assert.Equal(key.KeyId, loaded.KeyId);
        Assert.Equal(key.KeyId, trusted.KeyId);
        byte[] data = Encoding.UTF8.GetBytes("manifest bytes");
        Assert.True(trusted.Verify(data, loaded.Sign(data)));
    }

    [Fact]
    public void AKeyIsNeverOverwritten()
    {
        using var first = SigningKey.Generate();
        using var second = SigningKey.Generate();
        first.Save(_scratch.Combine("k.key"), _scratch.Combine("k.pub"));
        string before = File.ReadAllText(_scratch.Combine("k.key"));

        Assert.Throws<IOException>(() => second.Save(_scratch.Combine("k.key"), _scratch.Combine("other.pub")));

        Assert.Equal(before, File.ReadAllText(_scratch.Combine("k.key")));
        Assert.False(File.Exists(_scratch.Combine("other.pub")));
    }

    [Fact]
    public void TheKeyIdIsTheSha256OfTheSubjectPublicKeyInfo()
    {
        using var key = SigningKey.Generate();
        byte[] spki = Convert.FromBase64String(string.Concat(key.PublicKey.ToPem().Split('\n').Where(l => l.Length > 0 && !l.StartsWith("-----", StringComparison.Ordinal))));

        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(spki)), key.KeyId);
        Assert.Matches("^[0-9a-f]{64}$", key.KeyId);
    }

    [Fact]
    public void SignaturesAreSixtyFourByteP1363OverSha256()
    {
        using var key = SigningKey.Generate();
        byte[] data = Encoding.UTF8.GetBytes("{\"schema\":1}");

        PackageSignature signature = key.SignManifest(data);
        byte[] raw = Convert.FromBase64String(signature.Signature);

        Assert.Equal(SignatureAlgorithm.EcdsaP256Sha256, signature.Algorithm);
        Assert.Equal(64, raw.Length);
        using var ecdsa = ECDsa.Create();
        ecdsa.ImportSubjectPublicKeyInfo(key.PublicKey.SubjectPublicKeyInfo, out _);
        Assert.True(ecdsa.VerifyData(data, raw, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
        Assert.False(key.PublicKey.Verify(Encoding.UTF8.GetBytes("{\"schema\":2}"), raw));
        Assert.False(key.PublicKey.Verify(data, raw[..63]));
    }

    [Fact]
    public void AKeyFileThatIsNotPemIsAFormatError()
    {
        File.WriteAllBytes(_scratch.Combine("binary.pub"), [0xff, 0xfe, 0x00, 0x80]);
        File.WriteAllText(_scratch.Combine("two.pub"), SigningKey.Generate().PublicKey.ToPem() + SigningKey.Generate().PublicKey.ToPem());

        Assert.Contains("binary.pub", Assert.Throws<FormatException>(() => TrustedKey.Load(_scratch.Combine("binary.pub"))).Message);
        Assert.Contains("one key per file", Assert.Throws<FormatException>(() => TrustedKey.Load(_scratch.Combine("two.pub"))).Message);
    }

    [Fact]
    public void KeysOnOtherCurvesOrOfOtherKindsAreRefused()
    {
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        using var rsa = RSA.Create(2048);

        Assert.Contains("P-256", Assert.Throws<FormatException>(() => TrustedKey.FromPem(p384.ExportSubjectPublicKeyInfoPem())).Message);
        Assert.Contains("P-256", Assert.Throws<FormatException>(() => SigningKey.FromPem(p384.ExportPkcs8PrivateKeyPem())).Message);
        Assert.Throws<FormatException>(() => TrustedKey.FromPem(rsa.ExportSubjectPublicKeyInfoPem()));
        Assert.Contains("expected PUBLIC KEY", Assert.Throws<FormatException>(() => TrustedKey.FromPem(p384.ExportPkcs8PrivateKeyPem())).Message);
    }
}
