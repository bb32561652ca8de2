using Kairo.Updates.Packages;
using Kairo.Updates.Signing;

namespace Kairo.Updates.Tests;

/// <summary>Real packages of real models, verified whole and then attacked one way at a time: each attack has its reason.</summary>
public sealed class PackageVerifierTests : IDisposable
{
    private readonly ScratchDirectory _scratch = new();

    public PackageVerifierTests() => Repo.LoadOnnxRuntime();

    public void Dispose() => _scratch.Dispose();

    private string Signed(string name = "pkg") => SignedWith(name, Keys.Alice, Keys.Bob);

    private string SignedWith(string name, params SigningKey[] signers)
    {
        string directory = _scratch.Combine(name);
        Packages.Make(directory, signers);
        return directory;
    }

    private static PackageVerification Verify(string directory, int threshold = 2, TimeProvider? clock = null) =>
        Packages.Verifier(threshold, clock).Verify(directory);

    private static void AssertRefused(PackageVerification verification, UpdateFailure expected, string check)
    {
        Assert.False(verification.Passed, string.Join("\n", verification.Checks));
        Assert.Equal(expected, verification.Failure);
        Assert.Equal(check, verification.FailedCheck!.Name);
        Assert.Same(verification.FailedCheck, verification.Checks[^1]); // checks stop at the first failure
    }

    [Fact]
    public void PackSignTwiceVerifyWithThresholdTwoPasses()
    {
        string directory = Signed();

        PackageVerification verification = Verify(directory);

        Assert.True(verification.Passed, string.Join("\n", verification.Checks));
        Assert.Equal(["manifest", "signatures", "expiry", "files", "unlisted", "model"], verification.Checks.Select(c => c.Name));
        Assert.Equal(new[] { Keys.Alice.KeyId, Keys.Bob.KeyId }.Order(), verification.Signatures!.ValidKeyIds.Order());
        Assert.Empty(verification.Signatures.InvalidKeyIds);
        PackageManifest manifest = verification.Manifest!;
        Assert.Equal("scale_add", manifest.Model);
        Assert.Equal(["x: float[1,4]"], manifest.Signature.Inputs);
        Assert.Equal(["y: float[1,4]"], manifest.Signature.Outputs);
        Assert.Equal(7, manifest.Files.Count); // model + 3 sets of input and output
        Assert.DoesNotContain(manifest.Files, f => f.Path is PackagePaths.Manifest or PackagePaths.Signatures);
    }

    [Fact]
    public void AFlippedByteInASignatureIsSignatureInvalid()
    {
        string directory = Signed();
        string path = Path.Combine(directory, PackagePaths.Signatures);
        var signatures = PackageSignatures.Parse(File.ReadAllBytes(path)).ToList();
        byte[] raw = Convert.FromBase64String(signatures[0].Signature);
        raw[10] ^= 0x01;
        signatures[0] = signatures[0] with { Signature = Convert.ToBase64String(raw) };
        File.WriteAllBytes(path, PackageSignatures.ToUtf8Json(signatures));

        PackageVerification verification = Verify(directory);

        AssertRefused(verification, UpdateFailure.SignatureInvalid, "signatures");
        Assert.Equal([signatures[0].KeyId], verification.Signatures!.InvalidKeyIds);
        Assert.Single(verification.Signatures.ValidKeyIds);
    }

    [Fact]
    public void AChangedManifestInvalidatesEverySignature()
    {
        string directory = Signed();
        string path = Path.Combine(directory, PackagePaths.Manifest);
        File.WriteAllText(path, File.ReadAllText(path).Replace("\"release\": \"1\"", "\"release\": \"2\"", StringComparison.Ordinal));

        AssertRefused(Verify(directory), UpdateFailure.SignatureInvalid, "signatures");
    }

    [Fact]
    public void OneSignatureAgainstThresholdTwoIsSignatureThreshold()
    {
        string directory = SignedWith("pkg", Keys.Alice);

        AssertRefused(Verify(directory, threshold: 2), UpdateFailure.SignatureThreshold, "signatures");
        Assert.True(Verify(directory, threshold: 1).Passed);
    }

    [Fact]
    public void TheSameKeyTwiceCountsOnce()
    {
        string directory = SignedWith("pkg", Keys.Alice);
        string path = Path.Combine(directory, PackagePaths.Signatures);
        var signature = PackageSignatures.Parse(File.ReadAllBytes(path))[0];
        File.WriteAllBytes(path, PackageSignatures.ToUtf8Json([signature, signature]));

        AssertRefused(Verify(directory, threshold: 2), UpdateFailure.SignatureThreshold, "signatures");
    }

    [Fact]
    public void AnUnsignedPackageIsSignatureThreshold()
    {
        string directory = SignedWith("pkg");

        AssertRefused(Verify(directory, threshold: 1), UpdateFailure.SignatureThreshold, "signatures");
    }

    [Fact]
    public void SignaturesOnlyByUnknownKeysAreKeyUnknown()
    {
        string directory = SignedWith("pkg", Keys.Mallory);

        PackageVerification verification = Verify(directory, threshold: 1);

        AssertRefused(verification, UpdateFailure.KeyUnknown, "signatures");
        Assert.Equal([Keys.Mallory.KeyId], verification.Signatures!.UnknownKeyIds);
    }

    [Fact]
    public void AnUnknownKeyBesideEnoughTrustedOnesIsIgnoredAndReported()
    {
        string directory = SignedWith("pkg", Keys.Alice, Keys.Mallory, Keys.Bob);

        PackageVerification verification = Verify(directory);

        Assert.True(verification.Passed, string.Join("\n", verification.Checks));
        Assert.Equal([Keys.Mallory.KeyId], verification.Signatures!.UnknownKeyIds);
        Assert.Contains("unknown keys ignored", verification.Checks[1].Detail);
    }

    [Fact]
    public void TamperedModelBytesAreFileHash()
    {
        string directory = Signed();
        Packages.FlipByte(Path.Combine(directory, PackagePaths.Model), 100);

        PackageVerification verification = Verify(directory);

        AssertRefused(verification, UpdateFailure.FileHash, "files");
        Assert.StartsWith("model.onnx: SHA-256", verification.FailedCheck!.Detail);
    }

    [Fact]
    public void ATamperedGoldenVectorIsFileHash()
    {
        string directory = Signed();
        Packages.FlipByte(Path.Combine(directory, "test_data_set_1", "output_0.pb"), 20);

        PackageVerification verification = Verify(directory);

        AssertRefused(verification, UpdateFailure.FileHash, "files");
        Assert.StartsWith("test_data_set_1/output_0.pb", verification.FailedCheck!.Detail);
    }

    [Fact]
    public void BytesAppendedToAFileAreFileLength()
    {
        string directory = Signed();
        File.AppendAllText(Path.Combine(directory, "test_data_set_0", "input_0.pb"), "more");

        PackageVerification verification = Verify(directory);

        AssertRefused(verification, UpdateFailure.FileLength, "files");
        Assert.Contains("longer than the 27 signed", verification.FailedCheck!.Detail);
    }

    [Fact]
    public void ATruncatedFileIsFileLength()
    {
        string directory = Signed();
        string model = Path.Combine(directory, PackagePaths.Model);
        File.WriteAllBytes(model, File.ReadAllBytes(model)[..^1]);

        AssertRefused(Verify(directory), UpdateFailure.FileLength, "files");
    }

    [Fact]
    public void HashingStopsOneBytePastTheSignedLength()
    {
        string path = _scratch.Combine("long.bin");
        File.WriteAllBytes(path, new byte[1 << 20]);

        (long read, _) = PackageFiles.HashCapped(path, 1000, CancellationToken.None);

        Assert.Equal(1001, read);
    }

    [Fact]
    public void AMissingFileIsFileMissing()
    {
        string directory = Signed();
        File.Delete(Path.Combine(directory, "test_data_set_2", "input_0.pb"));

        PackageVerification verification = Verify(directory);

        AssertRefused(verification, UpdateFailure.FileMissing, "files");
        Assert.StartsWith("test_data_set_2/input_0.pb", verification.FailedCheck!.Detail);
    }

    [Fact]
    public void AnExtraFileIsFileUnlisted()
    {
        string directory = Signed();
        File.Copy(Path.Combine(directory, "test_data_set_0", "input_0.pb"), Path.Combine(directory, "test_data_set_0", "input_1.pb"));

        PackageVerification verification = Verify(directory);

        AssertRefused(verification, UpdateFailure.FileUnlisted, "unlisted");
        Assert.Contains("test_data_set_0/input_1.pb", verification.FailedCheck!.Detail);
    }

    [Fact]
    public void AnExtraDirectoryIsFileUnlisted()
    {
        string directory = Signed();
        Directory.CreateDirectory(Path.Combine(directory, "test_data_set_9"));

        PackageVerification verification = Verify(directory);

        AssertRefused(verification, UpdateFailure.FileUnlisted, "unlisted");
        Assert.Contains("test_data_set_9/", verification.FailedCheck!.Detail);
    }

    [Fact]
    public void AModelFromAnotherPackageIsFileHash()
    {
        string first = Signed("v1");
        string second = _scratch.Combine("v2");
        Packages.Make(second, Packages.Options("scale_add_v2.onnx", version: 2), Keys.Alice, Keys.Bob);
        Assert.True(Verify(second).Passed);

        // Both models are 578 bytes: only the hash tells them apart.
        File.Copy(Path.Combine(second, PackagePaths.Model), Path.Combine(first, PackagePaths.Model), overwrite: true);

        AssertRefused(Verify(first), UpdateFailure.FileHash, "files");
    }

    [Fact]
    public void VectorsFromAnotherPackageAreFileHash()
    {
        string first = Signed("v1");
        string second = _scratch.Combine("v2");
        Packages.Make(second, Packages.Options("scale_add_v2.onnx", version: 2), Keys.Alice, Keys.Bob);
        File.Copy(Path.Combine(second, "test_data_set_0", "output_0.pb"), Path.Combine(first, "test_data_set_0", "output_0.pb"), overwrite: true);

        AssertRefused(Verify(first), UpdateFailure.FileHash, "files");
    }

    [Fact]
    public void AnExpiredManifestIsExpired()
    {
        string directory = Signed();
        PackageManifest manifest = Packages.ReadManifest(directory);

        AssertRefused(Verify(directory, clock: new FixedClock(manifest.Expires)), UpdateFailure.Expired, "expiry");
        Assert.True(Verify(directory, clock: new FixedClock(manifest.Expires.AddSeconds(-1))).Passed);
    }

    [Fact]
    public void AManifestListingOtherInputsIsSignatureMismatch()
    {
        string directory = Signed();
        PackageManifest manifest = Packages.ReadManifest(directory);
        Packages.Republish(directory, manifest with { Signature = new ModelSignature(["x: float[1,8]"], manifest.Signature.Outputs) }, Keys.Alice, Keys.Bob);

        PackageVerification verification = Verify(directory);

        AssertRefused(verification, UpdateFailure.SignatureMismatch, "model");
        Assert.Contains("inputs are x: float[1,4] but the manifest lists x: float[1,8]", verification.FailedCheck!.Detail);
    }

    [Fact]
    public void AModelOnnxRuntimeRefusesIsModelInvalid()
    {
        string directory = Signed();
        File.WriteAllText(Path.Combine(directory, PackagePaths.Model), "not a model");
        PackageManifest manifest = Packages.ReadManifest(directory);
        Packages.Republish(directory, manifest with { Files = PackageBuilder.DescribeFiles(directory) }, Keys.Alice, Keys.Bob);

        AssertRefused(Verify(directory), UpdateFailure.ModelInvalid, "model");
    }

    [Fact]
    public void ASignedManifestListingAPathOutsideThePackageIsManifestInvalid()
    {
        string directory = Signed();
        File.WriteAllText(_scratch.Combine("outside.txt"), "secret");
        string path = Path.Combine(directory, PackagePaths.Manifest);
        string text = File.ReadAllText(path).Replace("\"path\": \"model.onnx\"", "\"path\": \"../outside.txt\"", StringComparison.Ordinal);
        File.WriteAllText(path, text);
        File.WriteAllBytes(Path.Combine(directory, PackagePaths.Signatures),
            PackageSignatures.ToUtf8Json([Keys.Alice.SignManifest(File.ReadAllBytes(path)), Keys.Bob.SignManifest(File.ReadAllBytes(path))]));

        PackageVerification verification = Verify(directory);

        AssertRefused(verification, UpdateFailure.ManifestInvalid, "manifest");
        Assert.Contains("../outside.txt", verification.FailedCheck!.Detail);
    }

    [Fact]
    public void ASymbolicLinkInThePackageIsPackageInvalid()
    {
        string directory = Signed();
        string model = Path.Combine(directory, PackagePaths.Model);
        string real = _scratch.Combine("model-elsewhere.onnx");
        File.Move(model, real);
        File.CreateSymbolicLink(model, real);

        AssertRefused(Verify(directory), UpdateFailure.PackageInvalid, "files");
    }

    [Fact]
    public void ADirectoryWithoutAManifestIsManifestInvalid()
    {
        Directory.CreateDirectory(_scratch.Combine("empty"));

        AssertRefused(Verify(_scratch.Combine("empty")), UpdateFailure.ManifestInvalid, "manifest");
    }

    [Fact]
    public void AManifestOverOneMebibyteIsRefusedUnparsed()
    {
        string directory = Signed();
        File.WriteAllText(Path.Combine(directory, PackagePaths.Manifest), new string(' ', PackageManifest.MaxBytes + 1));

        PackageVerification verification = Verify(directory);

        AssertRefused(verification, UpdateFailure.ManifestInvalid, "manifest");
        Assert.Contains("larger than", verification.FailedCheck!.Detail);
    }

    [Fact]
    public void SigningRefusesAPackageWhoseFilesDoNotMatch()
    {
        string directory = SignedWith("pkg");
        Packages.FlipByte(Path.Combine(directory, PackagePaths.Model), 50);

        var ex = Assert.Throws<UpdateException>(() => PackageSigner.Sign(directory, Keys.Alice));

        Assert.Equal(UpdateFailure.FileHash, ex.Failure);
        Assert.False(File.Exists(Path.Combine(directory, PackagePaths.Signatures)));
    }

    [Fact]
    public void SigningAgainReplacesTheKeysOwnSignature()
    {
        string directory = Signed();
        PackageSigner.Sign(directory, Keys.Alice);

        var signatures = PackageSignatures.Parse(File.ReadAllBytes(Path.Combine(directory, PackagePaths.Signatures)));

        Assert.Equal(2, signatures.Count);
        Assert.Equal(new[] { Keys.Alice.KeyId, Keys.Bob.KeyId }.Order(), signatures.Select(s => s.KeyId).Order());
    }

    [Fact]
    public void TheVerifierRefusesAnImpossibleThreshold()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new PackageVerifier(Keys.Trusted, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PackageVerifier(Keys.Trusted, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PackageVerifier([Keys.Alice.PublicKey, Keys.Alice.PublicKey], 2)); // one key, given twice
        Assert.Throws<ArgumentException>(() => new PackageVerifier([], 1));
    }
}
