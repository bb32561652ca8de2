using System.Text.RegularExpressions;
using Kairo.Updates.Packages;

namespace Kairo.Updates.Tests;

/// <summary>kairoctl keygen, pack, sign and verify as an operator runs them, as separate processes.</summary>
public sealed class KairoctlPackageTests : IDisposable
{
    private readonly ScratchDirectory _scratch = new();

    public void Dispose() => _scratch.Dispose();

    private (int ExitCode, string Output) Ctl(params string[] arguments) => Kairoctl.Run(_scratch.Path, arguments);

    [Fact]
    public void KeygenWritesAnOwnerOnlyPrivateKeyAndPrintsItsId()
    {
        var (exit, output) = Ctl("keygen", "--out", "release");

        Assert.Equal(0, exit);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_scratch.Combine("release.key")));
        Assert.False(File.GetUnixFileMode(_scratch.Combine("release.pub")).HasFlag(UnixFileMode.OtherWrite));
        string keyId = Regex.Match(output, "key id ([0-9a-f]{64})").Groups[1].Value;
        Assert.Equal(Kairo.Updates.Signing.TrustedKey.Load(_scratch.Combine("release.pub")).KeyId, keyId);

        var (again, message) = Ctl("keygen", "--out", "release");
        Assert.Equal(1, again);
        Assert.Contains("never overwritten", message);
    }

    [Fact]
    public void PackSignVerifyThenTamperIsRefusedWithItsCode()
    {
        Assert.Equal(0, Ctl("keygen", "--out", "alice").ExitCode);
        Assert.Equal(0, Ctl("keygen", "--out", "bob").ExitCode);

        var (packed, packOutput) = Ctl("pack", Repo.Model("scale_add_v1.onnx"), "--name", "scale_add", "--version", "4", "--release", "2025.06",
            "--boards", "rk3588-carrier,jetson-orin", "--expires", "30d", "--latency-budget", "500", "--generate", "2", "--seed", "9", "--out", "pkg", "--tar");
        Assert.True(packed == 0, packOutput);
        Assert.Contains("packed scale_add v4 (2025.06)", packOutput);
        Assert.True(File.Exists(_scratch.Combine("scale_add-v4.kpkg")));
        PackageManifest manifest = Packages.ReadManifest(_scratch.Combine("pkg"));
        Assert.Equal(["rk3588-carrier", "jetson-orin"], manifest.CompatibleBoards);

        var (unsigned, unsignedOutput) = Ctl("verify", "pkg", "--trusted", "alice.pub");
        Assert.Equal(1, unsigned);
        Assert.Contains("[signature_threshold]", unsignedOutput);

        var (signed, signOutput) = Ctl("sign", "pkg", "--key", "alice.key", "--key", "bob.key");
        Assert.True(signed == 0, signOutput);
        Assert.Contains("has 2 signatures", signOutput);

        var (verified, verifyOutput) = Ctl("verify", "pkg", "--trusted", "alice.pub,bob.pub", "--threshold", "2");
        Assert.True(verified == 0, verifyOutput);
        foreach (string check in new[] { "manifest", "signatures", "expiry", "files", "unlisted", "model", "golden", "latency" })
        {
            Assert.Matches($"(?m)^ok +{check} ", verifyOutput);
        }

        Assert.Contains("verified: scale_add v4 (2025.06)", verifyOutput);

        Packages.FlipByte(_scratch.Combine("pkg", "test_data_set_1", "output_0.pb"), 5);
        var (tampered, tamperedOutput) = Ctl("verify", "pkg", "--trusted", "alice.pub,bob.pub", "--threshold", "2");
        Assert.Equal(1, tampered);
        Assert.Matches("(?m)^FAIL +files +\\[file_hash\\] test_data_set_1/output_0.pb", tamperedOutput);
        Assert.Contains("refused: pkg [file_hash] at the files check", tamperedOutput);
    }

    [Fact]
    public void AnArchiveIsSignedAndVerifiedInPlace()
    {
        Ctl("keygen", "--out", "alice");
        var (packed, packOutput) = Ctl("pack", Repo.Model("scale_add_v1.onnx"), "--name", "scale_add", "--version", "1", "--generate", "1", "--out", "pkg", "--tar");
        Assert.True(packed == 0, packOutput);

        var (signed, signOutput) = Ctl("sign", "scale_add-v1.kpkg", "--key", "alice.key");
        Assert.True(signed == 0, signOutput);
        var (verified, verifyOutput) = Ctl("verify", "scale_add-v1.kpkg", "--trusted", "alice.pub", "--no-golden");

        Assert.True(verified == 0, verifyOutput);
        Assert.Contains("golden vectors not run", verifyOutput);
        Assert.False(File.Exists(_scratch.Combine("pkg", PackagePaths.Signatures))); // only the archive was signed
    }

    [Fact]
    public void UsageErrorsExitWithTwo()
    {
        Assert.Equal(2, Ctl("pack", Repo.Model("scale_add_v1.onnx"), "--name", "x", "--version", "1", "--out", "pkg").ExitCode); // no vectors
        Assert.Equal(2, Ctl("pack", Repo.Model("scale_add_v1.onnx"), "--name", "x", "--version", "0", "--generate", "1", "--out", "pkg").ExitCode);
        Assert.Equal(2, Ctl("pack", Repo.Model("scale_add_v1.onnx"), "--name", "x", "--version", "1", "--generate", "1", "--expires", "soon", "--out", "pkg").ExitCode);
        Assert.Equal(2, Ctl("verify", "missing", "--trusted", "missing.pub").ExitCode);
        Assert.Equal(2, Ctl("serve", _scratch.Path, "--bind", "localhost").ExitCode);
    }
}
