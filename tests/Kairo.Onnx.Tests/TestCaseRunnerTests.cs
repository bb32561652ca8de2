using Kairo.Onnx.TestData;

namespace Kairo.Onnx.Tests;

/// <summary>The runner's rules, on copies of real libonnx-testdata cases edited to break one rule at a time.</summary>
public sealed class TestCaseRunnerTests : IDisposable
{
    private const string NodeTestData = "/usr/share/libonnx-testdata/data/node";

    private readonly string _scratch = Directory.CreateTempSubdirectory("kairo-runner-").FullName;
    private readonly TestCaseRunner _runner = new(new SessionOptions { IntraOpThreads = 1, LogSeverity = 4 });

    public TestCaseRunnerTests() => Repo.LoadOnnxRuntime();

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [Fact]
    public void Cases_are_found_recursively_sorted_and_named_from_the_parent()
    {
        string root = Path.Combine(_scratch, "suite");
        foreach (string dir in new[] { "node/b_case", "node/a_case", "deep/er/case", "empty/nothing" })
        {
            Directory.CreateDirectory(Path.Combine(root, dir));
        }

        foreach (string dir in new[] { "node/b_case", "node/a_case", "deep/er/case" })
        {
            File.WriteAllBytes(Path.Combine(root, dir, "model.onnx"), []);
        }

        // A case directory's own subdirectories are its data, not more cases.
        Directory.CreateDirectory(Path.Combine(root, "node/a_case/nested"));
        File.WriteAllBytes(Path.Combine(root, "node/a_case/nested/model.onnx"), []);

        Assert.Equal(["suite/deep/er/case", "suite/node/a_case", "suite/node/b_case"], TestCaseRunner.FindCases(root).Select(c => c.Name));
        Assert.Equal(["deep/er/case", "node/a_case", "node/b_case"], TestCaseRunner.FindCases(root, namesRelativeTo: root).Select(c => c.Name));
        Assert.Equal(["a_case"], TestCaseRunner.FindCases(Path.Combine(root, "node/a_case") + "/").Select(c => c.Name));
        Assert.Empty(TestCaseRunner.FindCases(Path.Combine(root, "empty")));
        Assert.Throws<DirectoryNotFoundException>(() => TestCaseRunner.FindCases(Path.Combine(root, "missing")));
    }

    [Fact]
    public void Data_sets_run_in_numeric_order_and_a_failure_names_its_data_set()
    {
        string dir = CopyCase("test_abs");
        foreach (int n in new[] { 1, 2, 10 })
        {
            CopyDirectory(Path.Combine(dir, "test_data_set_0"), Path.Combine(dir, $"test_data_set_{n}"));
        }

        Assert.Equal(TestCaseStatus.Passed, _runner.Run(dir).Status);

        // Both 2 and 10 are broken: numeric order meets 2 first, text order would meet 10 first.
        BreakFirstFloat(Path.Combine(dir, "test_data_set_10", "output_0.pb"));
        BreakFirstFloat(Path.Combine(dir, "test_data_set_2", "output_0.pb"));
        TestCaseResult result = _runner.Run(dir);

        Assert.Equal(TestCaseStatus.Failed, result.Status);
        Assert.Equal(4, result.DataSetCount);
        Assert.StartsWith("test_data_set_2: output 'y': 1 of 60 elements differs; first at [0]", result.Message);
        Assert.Equal("y", result.Mismatch?.Output);
    }

    [Fact]
    public void Inputs_go_by_tensor_name_before_position()
    {
        // Sub is not commutative: x - y only comes out right when each file reaches its own input.
        string dir = CopyCase("test_sub");
        string set = Path.Combine(dir, "test_data_set_0");
        TensorData x = TensorProtoCodec.ReadFile(Path.Combine(set, "input_0.pb"));
        TensorData y = TensorProtoCodec.ReadFile(Path.Combine(set, "input_1.pb"));
        TensorProtoCodec.WriteFile(Path.Combine(set, "input_0.pb"), y);
        TensorProtoCodec.WriteFile(Path.Combine(set, "input_1.pb"), x);
        Assert.Equal(TestCaseStatus.Passed, _runner.Run(dir).Status);

        TensorProtoCodec.WriteFile(Path.Combine(set, "input_0.pb"), Unnamed(y));
        TensorProtoCodec.WriteFile(Path.Combine(set, "input_1.pb"), Unnamed(x));
        TestCaseResult byPosition = _runner.Run(dir);
        Assert.Equal(TestCaseStatus.Failed, byPosition.Status);
        Assert.StartsWith("output 'z': ", byPosition.Message);
    }

    [Fact]
    public void A_file_that_is_not_a_tensor_proto_is_unsupported()
    {
        string dir = CopyCase("test_abs");
        File.WriteAllBytes(Path.Combine(dir, "test_data_set_0", "input_0.pb"), [0x08, 0x03]); // dims only, no data_type

        TestCaseResult result = _runner.Run(dir);

        Assert.Equal(TestCaseStatus.Unsupported, result.Status);
        Assert.StartsWith("test_data_set_0/input_0.pb is not a TensorProto Kairo reads: data_type is missing", result.Message);
    }

    [Fact]
    public void A_model_onnx_runtime_refuses_is_an_error_with_its_code()
    {
        string dir = CopyCase("test_abs");
        File.WriteAllBytes(Path.Combine(dir, "model.onnx"), "not a model"u8.ToArray());

        TestCaseResult result = _runner.Run(dir);

        Assert.Equal(TestCaseStatus.Error, result.Status);
        Assert.Equal(OrtErrorCode.InvalidProtobuf, result.ErrorCode);
        Assert.StartsWith("ONNX Runtime refused to load the model: ", result.Message);
        Assert.DoesNotContain('\n', result.Message);
    }

    [Fact]
    public void Data_that_does_not_fit_the_model_fails()
    {
        string dir = CopyCase("test_sub");
        File.Delete(Path.Combine(dir, "test_data_set_0", "input_1.pb"));
        Assert.Equal("no input_K.pb feeds model input 'y'", _runner.Run(dir).Message);

        string empty = CopyCase("test_abs");
        Directory.Delete(Path.Combine(empty, "test_data_set_0"), recursive: true);
        TestCaseResult result = _runner.Run(empty);
        Assert.Equal(TestCaseStatus.Failed, result.Status);
        Assert.Equal(0, result.DataSetCount);
    }

    [Fact]
    public void Parallel_runs_report_in_case_order()
    {
        IReadOnlyList<TestCase> cases = TestCaseRunner.FindCases(NodeTestData).Take(40).ToList();
        var reported = new List<string>();

        TestCaseResult[] results = _runner.RunAll(cases, parallelism: 4, r => reported.Add(r.Name));

        Assert.Equal(cases.Select(c => c.Name), reported);
        Assert.Equal(cases.Select(c => c.Name), results.Select(r => r.Name));
    }

    private static TensorData Unnamed(TensorData t) => new() { ElementType = t.ElementType, Dims = t.Dims, RawData = t.RawData };

    private static void BreakFirstFloat(string file)
    {
        TensorData expected = TensorProtoCodec.ReadFile(file);
        float[] values = expected.AsSpan<float>().ToArray();
        values[0] += 1;
        TensorProtoCodec.WriteFile(file, TensorData.FromSpan<float>(values, expected.Dims, expected.Name));
    }

    private string CopyCase(string name)
    {
        string target = Path.Combine(_scratch, name);
        CopyDirectory(Path.Combine(NodeTestData, name), target);
        return target;
    }

    private static void CopyDirectory(string source, string target)
    {
        foreach (string file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            string copy = Path.Combine(target, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
            File.Copy(file, copy);
        }
    }
}
