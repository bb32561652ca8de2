using System.Diagnostics;

namespace Kairo.EndToEnd.Tests;

/// <summary>
/// The NativeAOT bundle scripts/publish builds (kairod, kairoctl, libonnxruntime.so.1), and a way to run its programs.
/// Found at $KAIRO_BUNDLE_DIR, else at &lt;repo&gt;/out/bundle/linux-x64. A missing bundle fails the tests: these tests exist
/// to check the published binaries, so skipping them would hide that nothing was checked.
/// </summary>
internal static class Bundle
{
    public const string DirectoryVariable = "KAIRO_BUNDLE_DIR";

    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);
    private static readonly Lazy<string> s_directory = new(Locate);

    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The bundle directory, full path; fails the calling test with how to build it when it is missing.</summary>
    public static string Directory => s_directory.Value;

    public static string PathOf(string file) => Path.Combine(Directory, file);

    /// <summary>Runs a program of the bundle, capturing its output; kills it and fails the test when it outlives <paramref name="timeout"/>.</summary>
    public static ProcessResult Run(string program, IEnumerable<string> arguments, TimeSpan? timeout = null)
    {
        var start = new ProcessStartInfo(PathOf(program))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        string commandLine = $"{program} {string.Join(' ', start.ArgumentList)}";
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {commandLine}");
        process.StandardInput.Close();
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        TimeSpan limit = timeout ?? DefaultTimeout;
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"{commandLine} did not finish within {limit.TotalSeconds} s and was killed.\n" +
                $"stdout:\n{stdout.GetAwaiter().GetResult()}\nstderr:\n{stderr.GetAwaiter().GetResult()}");
        }

        // WaitForExit(TimeSpan) does not wait for the redirected streams to drain; this does.
        process.WaitForExit();
        return new ProcessResult(commandLine, process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }

    private static string Locate()
    {
        string? configured = Environment.GetEnvironmentVariable(DirectoryVariable);
        string directory;
        if (string.IsNullOrEmpty(configured))
        {
            directory = Path.Combine(RepoRoot, "out", "bundle", "linux-x64");
        }
        else if (Path.IsPathRooted(configured) || System.IO.Directory.Exists(configured))
        {
            directory = Path.GetFullPath(configured);
        }
        else
        {
            // dotnet test runs the tests from their output directory; a relative path is meant from the repository.
            directory = Path.GetFullPath(Path.Combine(RepoRoot, configured));
        }

        string? missing = new[] { "kairod", "kairoctl", "libonnxruntime.so.1" }.FirstOrDefault(f => !File.Exists(Path.Combine(directory, f)));
        if (missing is not null)
        {
            string source = string.IsNullOrEmpty(configured) ? "the default location" : $"{DirectoryVariable}={configured}";
            Assert.Fail(
                $"The NativeAOT bundle is missing: {Path.Combine(directory, missing)} does not exist ({source}). " +
                $"Run scripts/publish to build it into out/bundle/linux-x64, or set {DirectoryVariable} to a bundle directory.");
        }

        return directory;
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Kairo.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no Kairo.sln above {AppContext.BaseDirectory}");
    }
}

/// <summary>How a program of the bundle ended and what it printed.</summary>
internal sealed record ProcessResult(string CommandLine, int ExitCode, string Stdout, string Stderr)
{
    public string[] StdoutLines => Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Everything a failed assertion needs to explain itself.</summary>
    public override string ToString() => $"{CommandLine}\nexit code {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
}
