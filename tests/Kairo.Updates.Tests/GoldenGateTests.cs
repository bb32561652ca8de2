using Kairo.Updates.Packages;

namespace Kairo.Updates.Tests;

/// <summary>The golden vectors of real packages on the real ONNX Runtime: values within tolerance, p99 under budget.</summary>
public sealed class GoldenGateTests : IDisposable
{
    private readonly ScratchDirectory _scratch = new();

    public GoldenGateTests() => Repo.LoadOnnxRuntime();

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public void AVerifiedPackagePassesItsGoldenVectorsAndBudget()
    {
        string directory = _scratch.Combine("pkg");
        PackageManifest manifest = Packages.Make(directory, Keys.Alice, Keys.Bob);

        GoldenResult result = new GoldenGate { TimedRuns = 50 }.Run(directory, manifest);

        Assert.True(result.Passed, string.Join("\n", result.Checks));
        Assert.Equal(["golden", "latency"], result.Checks.Select(c => c.Name));
        Assert.Equal(3, result.DataSets);
        Assert.Equal(50, result.Latency!.Runs);
        Assert.InRange(result.Latency.P99Ms, result.Latency.P50Ms, result.Latency.MaxMs);
    }

    [Fact]
    public void OutputsEditedAndResignedAreGoldenMismatch()
    {
        string directory = _scratch.Combine("pkg");
        PackageManifest manifest = Packages.Make(directory, Keys.Alice, Keys.Bob);
        TensorFiles.Shift(Path.Combine(directory, "test_data_set_1", "output_0.pb"), 0.5f);
        manifest = manifest with { Files = PackageBuilder.DescribeFiles(directory) };
        Packages.Republish(directory, manifest, Keys.Alice, Keys.Bob);

        // The hashes match the re-signed manifest, so only running the model can tell.
        Assert.True(Packages.Verifier().Verify(directory).Passed);
        GoldenResult result = new GoldenGate().Run(directory, Packages.ReadManifest(directory));

        Assert.False(result.Passed);
        Assert.Equal(UpdateFailure.GoldenMismatch, result.Failure);
        Assert.Equal("golden", result.FailedCheck!.Name);
        Assert.Contains("test_data_set_1", result.FailedCheck.Detail);
        Assert.Contains("output 'y'", result.FailedCheck.Detail);
    }

    [Fact]
    public void AWiderToleranceAcceptsTheSameEdit()
    {
        string directory = _scratch.Combine("pkg");
        Packages.Make(directory, Packages.Options() with { Tolerance = new Kairo.Onnx.TestData.Tolerance(atol: 1.0, rtol: 0) });
        TensorFiles.Shift(Path.Combine(directory, "test_data_set_1", "output_0.pb"), 0.5f);

        GoldenResult result = new GoldenGate { TimedRuns = 10 }.Run(directory, Packages.ReadManifest(directory));

        Assert.True(result.Passed, string.Join("\n", result.Checks));
    }

    [Fact]
    public void AMicrosecondBudgetIsLatencyBudget()
    {
        string directory = _scratch.Combine("pkg");
        PackageManifest manifest = Packages.Make(directory, Packages.Options() with { LatencyBudgetMs = 0.001 }, Keys.Alice, Keys.Bob);

        GoldenResult result = new GoldenGate { TimedRuns = 20 }.Run(directory, manifest);

        Assert.Equal(UpdateFailure.LatencyBudget, result.Failure);
        Assert.Equal("latency", result.FailedCheck!.Name);
        Assert.True(result.Checks[0].Passed); // values were right; only time failed
        Assert.True(result.Latency!.P99Ms >= 0.001);
        Assert.Contains("not under the 0.001 ms budget", result.FailedCheck.Detail);
    }

    [Fact]
    public void ADynamicBatchModelGetsVectorsOfTheGivenShape()
    {
        string directory = _scratch.Combine("mlp");
        var options = Packages.Options("mlp_policy.onnx", "mlp_policy") with { InputShapes = new Dictionary<string, long[]> { ["observation"] = [2, 48] } };
        PackageManifest manifest = Packages.Make(directory, options, Keys.Alice, Keys.Bob);

        Assert.Equal(["observation: float[batch,48]"], manifest.Signature.Inputs);
        Assert.Equal([2L, 48L], Kairo.Onnx.TestData.TensorProtoCodec.ReadFile(Path.Combine(directory, "test_data_set_0", "input_0.pb")).Dims);
        Assert.True(Packages.Verifier().Verify(directory).Passed);
        Assert.True(new GoldenGate { TimedRuns = 10 }.Run(directory, manifest).Passed);
    }

    [Fact]
    public void CopiedVectorsMustPassWhereThePackageIsMade()
    {
        string source = _scratch.Combine("source");
        Packages.Make(source, Packages.Options("scale_add_v2.onnx"));

        // Vectors of v2 (bias 2) cannot pass on v1 (bias 1): pack refuses rather than ship a package that fails everywhere.
        var options = Packages.Options() with { GenerateCount = 0, GoldenDirectory = source };
        var ex = Assert.Throws<UpdateException>(() => PackageBuilder.Build(options, _scratch.Combine("pkg")));

        Assert.Equal(UpdateFailure.GoldenMismatch, ex.Failure);
        Assert.False(Directory.Exists(_scratch.Combine("pkg")));
        Assert.Empty(Directory.EnumerateDirectories(_scratch.Path, "pkg*"));
    }

    [Fact]
    public void TheNearestRankQuantileIsASample()
    {
        double[] sorted = Enumerable.Range(1, 100).Select(i => (double)i).ToArray();

        Assert.Equal(99, GoldenGate.NearestRank(sorted, 0.99));
        Assert.Equal(50, GoldenGate.NearestRank(sorted, 0.50));
        Assert.Equal(7, GoldenGate.NearestRank([7], 0.99));
    }
}
