using System.CommandLine;
using System.CommandLine.Parsing;
using System.Diagnostics;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Kairo.Onnx;
using Kairo.Onnx.TestData;

namespace Kairo.Ctl;

/// <summary>
/// <c>kairoctl validate DIR...</c>: runs every test case in the ONNX test-data layout found under the directories
/// (a directory holding model.onnx is a case) on this machine's ONNX Runtime, and reports each one.
/// Exit code 0 when every case passed, 1 when any did not (or ONNX Runtime could not be loaded), 2 on a usage error.
/// </summary>
internal static class ValidateCommand
{
    public const int AllPassed = 0;
    public const int SomeNotPassed = 1;

    public static Command Create()
    {
        var directories = new Argument<string[]>("DIR")
        {
            Description = "Test case directories (holding model.onnx and test_data_set_N/), or directories searched for them.",
            Arity = ArgumentArity.OneOrMore,
        };
        var atol = new Option<double>("--atol")
        {
            Description = "Absolute tolerance for floating-point outputs: |expected - actual| <= atol + rtol * |expected|.",
            DefaultValueFactory = _ => Tolerance.DefaultAtol,
        };
        var rtol = new Option<double>("--rtol")
        {
            Description = "Relative tolerance for floating-point outputs.",
            DefaultValueFactory = _ => Tolerance.DefaultRtol,
        };
        var threads = new Option<int>("--threads")
        {
            Description = "Cases run in parallel; each session runs on one thread.",
            DefaultValueFactory = _ => 1,
        };
        var json = new Option<bool>("--json") { Description = "Print one JSON document instead of a line per case." };
        var providers = new Option<string?>("--providers")
        {
            Description = "Execution providers in priority order, comma-separated (e.g. CANN,CPU); one this ONNX Runtime lacks is skipped.",
        };
        atol.Validators.Add(r => RequireTolerance(r, "--atol"));
        rtol.Validators.Add(r => RequireTolerance(r, "--rtol"));
        threads.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 1)
            {
                r.AddError("--threads must be 1 or more, for example --threads 2");
            }
        });

        var command = new Command("validate", "Run ONNX test cases (model.onnx + test_data_set_N/*.pb) and compare the outputs within tolerance.")
        {
            directories, atol, rtol, threads, json, providers,
        };
        command.SetAction(parse => Run(
            parse.GetValue(directories) ?? [],
            new Tolerance(parse.GetValue(atol), parse.GetValue(rtol)),
            parse.GetValue(threads),
            parse.GetValue(json),
            ParseProviders(parse.GetValue(providers))));
        return command;
    }

    private static void RequireTolerance(OptionResult result, string name)
    {
        double value = result.GetValueOrDefault<double>();
        if (!(value >= 0) || double.IsInfinity(value))
        {
            result.AddError($"{name} must be a finite number >= 0, for example {name} 1e-4");
        }
    }

    private static string[] ParseProviders(string? list) =>
        list is null ? [] : list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static int Run(string[] directories, Tolerance tolerance, int threads, bool json, string[] providers)
    {
        var cases = new List<TestCase>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string directory in directories)
        {
            if (!Directory.Exists(directory))
            {
                return UsageError(File.Exists(directory)
                    ? $"{directory} is a file; give a test case directory (holding model.onnx) or a directory of them"
                    : $"no such directory: {directory}");
            }

            IReadOnlyList<TestCase> found;
            try
            {
                found = TestCaseRunner.FindCases(directory);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return UsageError($"cannot search {directory}: {ex.Message}");
            }

            if (found.Count == 0)
            {
                return UsageError($"no test cases under {directory} (a test case is a directory holding {TestCaseRunner.ModelFileName})");
            }

            cases.AddRange(found.Where(c => seen.Add(Path.GetFullPath(c.Directory))));
        }

        try
        {
            OnnxRuntimeLibrary.Load();
        }
        catch (DllNotFoundException ex)
        {
            Console.Error.WriteLine($"kairoctl validate: {ex.Message}");
            return SomeNotPassed;
        }

        foreach (string provider in providers)
        {
            if (!OnnxRuntimeLibrary.HasProvider(provider))
            {
                Console.Error.WriteLine(
                    $"kairoctl validate: this ONNX Runtime has no {provider} provider (it has {string.Join(", ", OnnxRuntimeLibrary.AvailableProviders)}); " +
                    "cases run on the next one listed, or CPU");
            }
        }

        var sessionOptions = new SessionOptions
        {
            IntraOpThreads = 1,
            InterOpThreads = 1,
            ExecutionProviders = Array.ConvertAll(providers, p => new ExecutionProvider(p)),
            LogSeverity = 4, // a refused model is reported as the case's error, not as ONNX Runtime log noise
        };
        var runner = new TestCaseRunner(sessionOptions, tolerance);
        var clock = Stopwatch.StartNew();
        TestCaseResult[] results = runner.RunAll(cases, threads, json ? null : PrintLine);
        clock.Stop();

        var summary = Summary.Of(results, clock.Elapsed);
        if (json)
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(Report.Of(results, summary, tolerance, providers), ValidateJson.Relaxed.Report));
        }
        else
        {
            Console.Out.WriteLine(summary.ToString());
        }

        return summary.Passed == results.Length ? AllPassed : SomeNotPassed;
    }

    private static int UsageError(string message)
    {
        Console.Error.WriteLine($"kairoctl validate: {message}");
        return CtlCommand.UsageError;
    }

    /// <summary><c>PASS  node/test_abs  (1 data set, 3.1 ms)</c>, and the reason after it when the case did not pass.</summary>
    private static void PrintLine(TestCaseResult result)
    {
        string label = result.Status switch
        {
            TestCaseStatus.Passed => "PASS",
            TestCaseStatus.Failed => "FAIL",
            TestCaseStatus.Error => "ERROR",
            _ => "UNSUPPORTED",
        };
        string line = string.Create(CultureInfo.InvariantCulture,
            $"{label}  {result.Name}  ({result.DataSetCount} data {(result.DataSetCount == 1 ? "set" : "sets")}, {result.Duration.TotalMilliseconds:F1} ms)");
        if (!result.Passed)
        {
            string code = result.ErrorCode is { } c ? $"[{c}] " : "";
            line += $"  {code}{result.Message}";
        }

        Console.Out.WriteLine(line);
    }

    internal sealed record Summary(int Cases, int Passed, int Failed, int Errors, int Unsupported, double Seconds)
    {
        public static Summary Of(TestCaseResult[] results, TimeSpan elapsed)
        {
            int Count(TestCaseStatus status) => results.Count(r => r.Status == status);
            return new Summary(results.Length, Count(TestCaseStatus.Passed), Count(TestCaseStatus.Failed), Count(TestCaseStatus.Error),
                Count(TestCaseStatus.Unsupported), Math.Round(elapsed.TotalSeconds, 3));
        }

        /// <summary><c>1071 cases: 1002 passed, 20 failed, 40 errors, 9 unsupported in 12.3 s</c>.</summary>
        public override string ToString() => string.Create(CultureInfo.InvariantCulture,
            $"{Cases} {(Cases == 1 ? "case" : "cases")}: {Passed} passed, {Failed} failed, {Errors} {(Errors == 1 ? "error" : "errors")}, " +
            $"{Unsupported} unsupported in {Seconds:F1} s");
    }

    internal sealed record CaseReport(
        string Name,
        string Directory,
        string Status,
        int DataSets,
        double DurationMs,
        string? Message,
        string? ErrorCode,
        string? Output,
        long? FirstIndex,
        long? DifferingElements);

    internal sealed record ToleranceReport(double Atol, double Rtol);

    internal sealed record Report(string OnnxRuntime, string[] Providers, ToleranceReport Tolerance, CaseReport[] Cases, Summary Summary)
    {
        public static Report Of(TestCaseResult[] results, Summary summary, Tolerance tolerance, string[] providers) => new(
            OnnxRuntimeLibrary.Version,
            providers.Length == 0 ? ["CPU"] : providers,
            new ToleranceReport(tolerance.Atol, tolerance.Rtol),
            Array.ConvertAll(results, r => new CaseReport(
                r.Name,
                r.Case.Directory,
                r.Status.ToString().ToLowerInvariant(),
                r.DataSetCount,
                Math.Round(r.Duration.TotalMilliseconds, 3),
                r.Passed ? null : r.Message,
                r.ErrorCode?.ToString(),
                r.Mismatch?.Output,
                r.Mismatch is { Kind: MismatchKind.Values } first ? first.FirstIndex : null,
                r.Mismatch is { Kind: MismatchKind.Values } values ? values.DifferingCount : null)),
            summary);
    }
}

/// <summary>Source-generated JSON for <c>kairoctl validate --json</c> (kairoctl is NativeAOT: no reflection).</summary>
[JsonSerializable(typeof(ValidateCommand.Report))]
internal sealed partial class ValidateJson : JsonSerializerContext
{
    /// <summary>Keeps quotes and non-ASCII text readable: the document goes to a terminal or a file, never into HTML.</summary>
    public static ValidateJson Relaxed { get; } = new(new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
