using Kairo.Onnx;
using Kairo.Runtime.Loops;
using Kairo.Updates.Packages;

namespace Kairo.Updates.Tests;

/// <summary>The checks that need the device's state: installed version, board, versions, and the loop's layout.</summary>
public sealed class DeviceCheckTests : IDisposable
{
    private readonly ScratchDirectory _scratch = new();

    public DeviceCheckTests() => Repo.LoadOnnxRuntime();

    public void Dispose() => _scratch.Dispose();

    private PackageManifest Manifest(string model = "scale_add_v1.onnx", string name = "scale_add", IReadOnlyDictionary<string, long[]>? shapes = null) =>
        Packages.Make(_scratch.Combine(Guid.NewGuid().ToString("N")), Packages.Options(model, name, version: 5) with
        {
            CompatibleBoards = ["rk3588-carrier", "jetson-orin"],
            MinKairoVersion = "0.2.0",
            MinOnnxRuntimeVersion = "1.20.0",
            InputShapes = shapes,
        });

    private static LoopLayout Loop(string model, IReadOnlyDictionary<string, long[]>? shapes = null, IReadOnlyList<StateEdge>? state = null)
    {
        var source = new ModelSource(Path.GetFileNameWithoutExtension(model), Repo.Model(model), null, new SessionOptions { IntraOpThreads = 1, InterOpThreads = 1 });
        using var instance = ModelInstance.Load(source, new LoopOptions
        {
            Name = "test",
            RateHz = 1,
            InputShapes = shapes ?? new Dictionary<string, long[]>(),
            State = state ?? [],
        }, warmupRuns: 1);
        return instance.Layout;
    }

    [Fact]
    public void OnlyANewerVersionPasses()
    {
        PackageManifest manifest = Manifest();

        Assert.True(PackageVerifier.CheckVersionNewer(manifest, null).Passed);
        Assert.True(PackageVerifier.CheckVersionNewer(manifest, 4).Passed);
        Assert.Equal(UpdateFailure.VersionNotNewer, PackageVerifier.CheckVersionNewer(manifest, 5).Failure);
        Assert.Equal(UpdateFailure.VersionNotNewer, PackageVerifier.CheckVersionNewer(manifest, 9).Failure);
    }

    [Fact]
    public void OnlyAListedBoardPasses()
    {
        PackageManifest manifest = Manifest();

        Assert.True(PackageVerifier.CheckBoard(manifest, "jetson-orin").Passed);
        PackageCheck other = PackageVerifier.CheckBoard(manifest, "pi5");
        Assert.Equal(UpdateFailure.BoardIncompatible, other.Failure);
        Assert.Contains("not on pi5", other.Detail);
        Assert.True(PackageVerifier.CheckBoard(manifest with { CompatibleBoards = ["*"] }, "pi5").Passed);
    }

    [Fact]
    public void AnOlderKairoOrOnnxRuntimeIsRuntimeIncompatible()
    {
        PackageManifest manifest = Manifest();

        Assert.True(PackageVerifier.CheckRuntime(manifest, "0.2.0", "1.20.0").Passed);
        Assert.True(PackageVerifier.CheckRuntime(manifest, "1.0.0", OnnxRuntimeLibrary.Version).Passed);
        PackageCheck oldKairo = PackageVerifier.CheckRuntime(manifest, "0.1.9", "1.22.0");
        Assert.Equal(UpdateFailure.RuntimeIncompatible, oldKairo.Failure);
        Assert.Contains("Kairo 0.2.0 or later, this is 0.1.9", oldKairo.Detail);
        Assert.Equal(UpdateFailure.RuntimeIncompatible, PackageVerifier.CheckRuntime(manifest, "0.2.0-rc.1", "1.22.0").Failure);
        Assert.Equal(UpdateFailure.RuntimeIncompatible, PackageVerifier.CheckRuntime(manifest, "0.2.0", "1.19.2").Failure);
        Assert.Throws<ArgumentException>(() => PackageVerifier.CheckRuntime(manifest, "unknown", "1.22.0"));
    }

    [Fact]
    public void AModelFitsTheLoopOfTheSameSignature()
    {
        Assert.True(PackageVerifier.CheckLoop(Manifest(), Loop("scale_add_v2.onnx")).Passed);
    }

    [Fact]
    public void AModelOfOtherInputsIsSignatureMismatchForTheLoop()
    {
        PackageCheck check = PackageVerifier.CheckLoop(Manifest(), Loop("pilotnet.onnx"));

        Assert.Equal(UpdateFailure.SignatureMismatch, check.Failure);
        Assert.Contains("the loop has no input 'x'", check.Detail);
        Assert.Contains("camera: float[1,3,66,200] is not among the model's", check.Detail);
    }

    [Fact]
    public void AnOpenDimensionFitsTheLoopsSizeButAFixedOneMustMatch()
    {
        var shapes = new Dictionary<string, long[]> { ["observation"] = [4, 48] };
        PackageManifest manifest = Manifest("mlp_policy.onnx", "mlp_policy", shapes);
        Assert.Equal(["observation: float[batch,48]"], manifest.Signature.Inputs);

        Assert.True(PackageVerifier.CheckLoop(manifest, Loop("mlp_policy.onnx", shapes)).Passed);

        PackageManifest narrower = manifest with { Signature = new ModelSignature(["observation: float[batch,32]"], manifest.Signature.Outputs) };
        PackageCheck check = PackageVerifier.CheckLoop(narrower, Loop("mlp_policy.onnx", shapes));
        Assert.Equal(UpdateFailure.SignatureMismatch, check.Failure);
        Assert.Contains("observation: float[batch,32] does not fit the loop's observation: float[4,48]", check.Detail);
    }

    [Fact]
    public void StateInputsCountAsInputs()
    {
        LoopLayout loop = Loop("recurrent_policy.onnx", state: [new StateEdge("hidden_out", "hidden_in")]);
        var manifest = Manifest() with
        {
            Signature = new ModelSignature(["observation: float[1,32]", "hidden_in: float[1,64]"], ["action: float[1,8]", "hidden_out: float[1,64]"]),
        };

        Assert.True(PackageVerifier.CheckLoop(manifest, loop).Passed, PackageVerifier.CheckLoop(manifest, loop).Detail);
    }
}
