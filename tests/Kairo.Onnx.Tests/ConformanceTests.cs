using System.Diagnostics;
using System.Text;
using Kairo.Onnx.TestData;
using Xunit.Abstractions;

namespace Kairo.Onnx.Tests;

/// <summary>
/// Runs every ONNX operator test case of libonnx-testdata through the test-case runner and holds each case to the
/// status tests/conformance/expectations.tsv records for it (a case not listed must pass).
/// KAIRO_CONFORMANCE_WRITE=1 rewrites the file from this run instead; see tests/conformance/README.md.
/// </summary>
public sealed class ConformanceTests(ITestOutputHelper output)
{
    private const string DataRoot = "/usr/share/libonnx-testdata/data";
    private const string WriteVariable = "KAIRO_CONFORMANCE_WRITE";
    private static readonly TimeSpan TimeBudget = TimeSpan.FromMinutes(5);

    private static string ExpectationsPath => Path.Combine(Repo.Root, "tests", "conformance", "expectations.tsv");

    [Fact]
    public void Every_case_keeps_its_expected_status()
    {
        Assert.True(Directory.Exists(DataRoot), $"{DataRoot} is missing: install the Debian package libonnx-testdata (scripts/setup does)");
        Repo.LoadOnnxRuntime();
        IReadOnlyList<TestCase> cases = TestCaseRunner.FindCases(DataRoot, namesRelativeTo: DataRoot);
        var runner = new TestCaseRunner(new SessionOptions { IntraOpThreads = 1, InterOpThreads = 1, LogSeverity = 4 });

        var clock = Stopwatch.StartNew();
        TestCaseResult[] results = runner.RunAll(cases, Environment.ProcessorCount);
        clock.Stop();

        int Count(TestCaseStatus status) => results.Count(r => r.Status == status);
        output.WriteLine(
            $"{results.Length} cases: {Count(TestCaseStatus.Passed)} passed, {Count(TestCaseStatus.Failed)} failed, " +
            $"{Count(TestCaseStatus.Error)} errors, {Count(TestCaseStatus.Unsupported)} unsupported " +
            $"in {clock.Elapsed.TotalSeconds:F1} s on {Environment.ProcessorCount} threads");
        foreach (TestCaseResult slowest in results.OrderByDescending(r => r.Duration).Take(5))
        {
            output.WriteLine($"  slow: {slowest.Name} {slowest.Duration.TotalMilliseconds:F0} ms");
        }

        Assert.True(cases.Count > 1000, $"found only {cases.Count} cases under {DataRoot}");
        Dictionary<string, Expectation> expected = Expectation.ReadAll(ExpectationsPath);

        if (Environment.GetEnvironmentVariable(WriteVariable) == "1")
        {
            Expectation.WriteAll(ExpectationsPath, results, expected);
            output.WriteLine($"{WriteVariable}=1: rewrote {ExpectationsPath}; review the reasons of new lines before committing");
            return;
        }

        var problems = new List<string>();
        foreach (TestCaseResult result in results)
        {
            Expectation? e = expected.GetValueOrDefault(result.Name);
            if (e?.Accepts(result.Status) ?? result.Passed)
            {
                continue;
            }

            string was = e is null ? "passed" : $"{e.StatusWord} ({e.Reason})";
            problems.Add(result.Passed
                ? $"{result.Name}: newly passing; it was expected {was} — remove its line"
                : $"{result.Name}: expected {was}, now {Word(result.Status)}: {result.Message}");
        }

        var names = results.Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
        foreach (string stale in expected.Keys.Where(k => !names.Contains(k)).Order(StringComparer.Ordinal))
        {
            problems.Add($"{stale}: listed in expectations.tsv but no such case exists under {DataRoot} — remove its line");
        }

        Assert.True(problems.Count == 0,
            $"{problems.Count} conformance cases changed status (fix the cause, or update {ExpectationsPath}; " +
            $"{WriteVariable}=1 rewrites it):\n  " + string.Join("\n  ", problems));
        Assert.True(clock.Elapsed < TimeBudget, $"the conformance run took {clock.Elapsed.TotalSeconds:F0} s, over its {TimeBudget.TotalMinutes} min budget");
    }

    private static string Word(TestCaseStatus status) => status.ToString().ToLowerInvariant();

    /// <summary>
    /// One line of expectations.tsv: <c>case TAB status TAB reason</c>. The status is failed, error or unsupported, or
    /// random for a case whose outputs are random without a seed: it fails, but may match by chance, so passed is accepted too.
    /// </summary>
    private sealed record Expectation(string Case, TestCaseStatus Status, bool Random, string Reason)
    {
        private const string RandomWord = "random";
        private const int MaxGeneratedReason = 140;

        public string StatusWord => Random ? RandomWord : Word(Status);

        public bool Accepts(TestCaseStatus status) => status == Status || (Random && status == TestCaseStatus.Passed);

        private const string Header =
            "# Conformance expectations: every libonnx-testdata case that does not pass, with why. See README.md.\n" +
            "# case\tstatus (failed, error, unsupported; random: failed or passed by chance)\treason\n";

        public static Dictionary<string, Expectation> ReadAll(string path)
        {
            var all = new Dictionary<string, Expectation>(StringComparer.Ordinal);
            if (!File.Exists(path))
            {
                return all;
            }

            int lineNumber = 0;
            foreach (string line in File.ReadLines(path))
            {
                lineNumber++;
                if (line.Length == 0 || line.StartsWith('#'))
                {
                    continue;
                }

                string[] fields = line.Split('\t');
                Assert.True(fields.Length == 3 && fields[2].Length > 0,
                    $"{path}:{lineNumber}: expected 'case<TAB>status<TAB>reason', got '{line}'");
                bool random = fields[1] == RandomWord;
                TestCaseStatus status = TestCaseStatus.Failed;
                Assert.True(random || (Enum.TryParse(fields[1], ignoreCase: true, out status) && status != TestCaseStatus.Passed),
                    $"{path}:{lineNumber}: status '{fields[1]}' is not failed, error, unsupported or random");
                Assert.True(all.TryAdd(fields[0], new Expectation(fields[0], status, random, fields[2])), $"{path}:{lineNumber}: {fields[0]} is listed twice");
            }

            return all;
        }

        /// <summary>
        /// Rewrites the file from <paramref name="results"/>, keeping the hand-written line of every case whose status
        /// it still accepts (a random case stays listed even when it passed by chance); a new line gets the first words
        /// of the runner's message, to be reviewed.
        /// </summary>
        public static void WriteAll(string path, IEnumerable<TestCaseResult> results, Dictionary<string, Expectation> previous)
        {
            var text = new StringBuilder(Header);
            foreach (TestCaseResult result in results.OrderBy(r => r.Name, StringComparer.Ordinal))
            {
                Expectation? old = previous.GetValueOrDefault(result.Name);
                if (old is not null && old.Accepts(result.Status))
                {
                    text.Append(result.Name).Append('\t').Append(old.StatusWord).Append('\t').Append(old.Reason).Append('\n');
                }
                else if (!result.Passed)
                {
                    text.Append(result.Name).Append('\t').Append(Word(result.Status)).Append('\t').Append(Shorten(result.Message)).Append('\n');
                }
            }

            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, text.ToString());
        }

        private static string Shorten(string message)
        {
            string line = message.ReplaceLineEndings(" ").Replace('\t', ' ').Trim();
            return line.Length <= MaxGeneratedReason ? line : line[..MaxGeneratedReason] + "…";
        }
    }
}
