using System.Diagnostics;

namespace Kairo.Daemon.Tests;

/// <summary>docs/profile.schema.json agrees with the profiles shipped and with what kairod accepts.</summary>
public sealed class ProfileSchemaTests
{
    internal static readonly string Root = FindRoot();

    private const string Checker = """
        import json, sys, jsonschema
        schema = json.load(open(sys.argv[1]))
        jsonschema.Draft202012Validator.check_schema(schema)
        validator = jsonschema.Draft202012Validator(schema)
        bad = 0
        for path in sys.argv[2:]:
            for error in validator.iter_errors(json.load(open(path))):
                print(f"{path}: {'/'.join(str(p) for p in error.absolute_path)}: {error.message}")
                bad += 1
        sys.exit(1 if bad else 0)
        """;

    private static (int ExitCode, string Output) Check(params string[] profiles)
    {
        var info = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(Checker);
        info.ArgumentList.Add(Path.Combine(Root, "docs", "profile.schema.json"));
        foreach (var p in profiles)
        {
            info.ArgumentList.Add(p);
        }

        using var process = Process.Start(info)!;
        string output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output);
    }

    [Fact]
    public void EveryShippedProfileMatchesTheSchema()
    {
        var profiles = Directory.GetFiles(Path.Combine(Root, "firmware-config"), "*.json");
        Assert.True(profiles.Length >= 8, "the board profiles are there");
        var (code, output) = Check(profiles);
        Assert.True(code == 0, output);
    }

    [Fact]
    public void TheSchemaRefusesWhatKairodRefuses()
    {
        string path = Path.Combine(Path.GetTempPath(), $"kairo-schema-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, """
            { "models": [ { "name": "m", "path": "x.onnx" } ],
              "loops": [ { "name": "l", "model": "m", "rateHz": 5000, "rate": 3, "source": { "type": "camera" } } ] }
            """);
        try
        {
            var (code, output) = Check(path);
            Assert.Equal(1, code);
            Assert.Contains("loops/0/rateHz", output);
            Assert.Contains("'rate' was unexpected", output);
            Assert.Contains("loops/0/source/type", output);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Kairo.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("no Kairo.sln above the test binaries");
    }
}
