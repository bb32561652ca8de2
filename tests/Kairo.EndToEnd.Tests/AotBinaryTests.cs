using System.Reflection;
using System.Text.Json;
using Kairo.Onnx.TestData;

namespace Kairo.EndToEnd.Tests;

/// <summary>The published NativeAOT kairod and kairoctl, run as an operator would run them.</summary>
public sealed class AotBinaryTests : IDisposable
{
    private const string TestData = "/usr/share/libonnx-testdata/data";

    // Passing cases that between them cover float, float16, int64 and bool outputs and string tensors.
    private static readonly string[] PassingCases =
    [
        "node/test_abs",
        "node/test_argmax_default_axis_example",
        "node/test_cast_FLOAT_to_FLOAT16",
        "node/test_equal",
        "simple/test_strnorm_model_nostopwords_nochangecase",
    ];

    private readonly string _scratch = Directory.CreateTempSubdirectory("kairo-e2e-").FullName;

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [Fact]
    public void Kairod_version_names_kairo_onnx_runtime_and_providers()
    {
        ProcessResult run = Bundle.Run("kairod", ["--version"]);

        Assert.True(run.ExitCode == 0, run.ToString());
        string[] lines = run.StdoutLines;
        Assert.True(lines.Length == 3, run.ToString());
        Assert.Equal($"kairod {KairoVersion}", lines[0]);
        Assert.Equal($"onnxruntime 1.30.0 ({Bundle.PathOf("libonnxruntime.so.1")})", lines[1]); // the copy beside kairod
        Assert.StartsWith("execution providers: ", lines[2]);
        Assert.Contains("CPU", lines[2]["execution providers: ".Length..].Split(", "));
    }

    [Fact]
    public void Validate_passes_real_cases_and_exits_0()
    {
        ProcessResult run = Bundle.Run("kairoctl", ["validate", .. PassingCases.Select(Case), "--threads", "2"]);

        Assert.True(run.ExitCode == 0, run.ToString());
        string[] lines = run.StdoutLines;
        Assert.Equal(PassingCases.Length + 1, lines.Length);
        for (int i = 0; i < PassingCases.Length; i++)
        {
            // Lines come in the order the cases were given, whatever order the two threads finish them in.
            string name = Path.GetFileName(PassingCases[i]);
            Assert.Matches($@"^PASS  {name}  \(1 data set, \d+\.\d ms\)$", lines[i]);
        }

        Assert.Matches($@"^{PassingCases.Length} cases: {PassingCases.Length} passed, 0 failed, 0 errors, 0 unsupported in \d+\.\d s$", lines[^1]);
    }

    [Fact]
    public void Validate_names_the_output_of_a_corrupted_case_and_exits_1()
    {
        string broken = CopyCase("node/test_abs");
        string expectedFile = Path.Combine(broken, "test_data_set_0", "output_0.pb");
        TensorData expected = TensorProtoCodec.ReadFile(expectedFile);
        float[] values = expected.AsSpan<float>().ToArray();
        values[7] += 1;
        TensorProtoCodec.WriteFile(expectedFile, TensorData.FromSpan<float>(values, expected.Dims, expected.Name));

        ProcessResult run = Bundle.Run("kairoctl", ["validate", broken]);

        Assert.True(run.ExitCode == 1, run.ToString());
        string fail = Assert.Single(run.StdoutLines, l => l.StartsWith("FAIL  test_abs  ", StringComparison.Ordinal));
        Assert.Contains($"output 'y': 1 of {values.Length} elements differs; first at [7]: expected", fail);
        Assert.Matches(@"^1 case: 0 passed, 1 failed, 0 errors, 0 unsupported in \d+\.\d s$", run.StdoutLines[^1]);
    }

    [Fact]
    public void Validate_json_is_one_document_with_every_case_and_the_summary()
    {
        string broken = CopyCase("node/test_equal");
        string expectedFile = Path.Combine(broken, "test_data_set_0", "output_0.pb");
        TensorData expected = TensorProtoCodec.ReadFile(expectedFile);
        bool[] values = expected.AsSpan<bool>().ToArray();
        values[0] = !values[0];
        TensorProtoCodec.WriteFile(expectedFile, TensorData.FromSpan<bool>(values, expected.Dims, expected.Name));

        ProcessResult run = Bundle.Run("kairoctl", ["validate", Case("node/test_abs"), broken, "--json", "--atol", "1e-4", "--rtol", "0"]);

        Assert.True(run.ExitCode == 1, run.ToString());
        using JsonDocument json = JsonDocument.Parse(run.Stdout);
        JsonElement root = json.RootElement;
        Assert.Equal("1.30.0", root.GetProperty("onnxRuntime").GetString());
        Assert.Equal(1e-4, root.GetProperty("tolerance").GetProperty("atol").GetDouble());
        Assert.Equal(0, root.GetProperty("tolerance").GetProperty("rtol").GetDouble());

        JsonElement[] cases = root.GetProperty("cases").EnumerateArray().ToArray();
        Assert.Equal(2, cases.Length);
        Assert.Equal("test_abs", cases[0].GetProperty("name").GetString());
        Assert.Equal("passed", cases[0].GetProperty("status").GetString());
        Assert.Equal(1, cases[0].GetProperty("dataSets").GetInt32());
        Assert.False(cases[0].TryGetProperty("message", out _));

        Assert.Equal("test_equal", cases[1].GetProperty("name").GetString());
        Assert.Equal("failed", cases[1].GetProperty("status").GetString());
        Assert.Equal("z", cases[1].GetProperty("output").GetString());
        Assert.Equal(0, cases[1].GetProperty("firstIndex").GetInt64());
        Assert.Equal(1, cases[1].GetProperty("differingElements").GetInt64());
        Assert.StartsWith("output 'z': 1 of ", cases[1].GetProperty("message").GetString());

        JsonElement summary = root.GetProperty("summary");
        Assert.Equal(2, summary.GetProperty("cases").GetInt32());
        Assert.Equal(1, summary.GetProperty("passed").GetInt32());
        Assert.Equal(1, summary.GetProperty("failed").GetInt32());
        Assert.Equal(0, summary.GetProperty("errors").GetInt32());
        Assert.Equal(0, summary.GetProperty("unsupported").GetInt32());
    }

    [Fact]
    public void Validate_reports_a_missing_directory_as_a_usage_error()
    {
        string missing = Path.Combine(_scratch, "no-such-cases");

        ProcessResult run = Bundle.Run("kairoctl", ["validate", Case("node/test_abs"), missing]);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains($"no such directory: {missing}", run.Stderr);
        Assert.DoesNotContain("PASS", run.Stdout); // nothing runs when the command line is wrong
    }

    [Fact]
    public void Validate_reports_a_bad_option_value_as_a_usage_error()
    {
        ProcessResult run = Bundle.Run("kairoctl", ["validate", Case("node/test_abs"), "--atol", "-1"]);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains("--atol must be a finite number >= 0", run.Stderr);
    }

    private static string KairoVersion =>
        typeof(AotBinaryTests).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion.Split('+')[0];

    private static string Case(string name)
    {
        string path = Path.Combine(TestData, name);
        Assert.True(Directory.Exists(path), $"{path} is missing: install the Debian package libonnx-testdata (scripts/setup does)");
        return path;
    }

    /// <summary>A writable copy of a libonnx-testdata case, under the same directory name.</summary>
    private string CopyCase(string name)
    {
        string source = Case(name);
        string target = Path.Combine(_scratch, Path.GetFileName(source));
        foreach (string file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            string copy = Path.Combine(target, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
            File.Copy(file, copy);
        }

        return target;
    }
}
