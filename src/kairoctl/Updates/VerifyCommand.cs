using System.CommandLine;
using Kairo.Updates;
using Kairo.Updates.Packages;
using Kairo.Updates.Signing;

namespace Kairo.Ctl.Updates;

/// <summary>
/// <c>kairoctl verify DIR|FILE.kpkg --trusted K1.pub,K2.pub [--threshold k]</c>: every check a device makes before it
/// stages a package, then the golden vectors and their latency on this machine; one line per check. Exit code 0 when
/// every check passed, 1 with the failure's code when one did not, 2 on a usage error.
/// </summary>
internal static class VerifyCommand
{
    public static Command Create()
    {
        var package = new Argument<string>("PACKAGE") { Description = "A package directory or a .kpkg archive." };
        var trusted = new Option<string[]>("--trusted")
        {
            Description = "Trusted public keys (NAME.pub), comma-separated or repeated.",
            Required = true,
            AllowMultipleArgumentsPerToken = false,
        };
        var threshold = new Option<int>("--threshold")
        {
            Description = "How many distinct trusted keys must have signed (k of n).",
            DefaultValueFactory = _ => 1,
        };
        var noGolden = new Option<bool>("--no-golden") { Description = "Skip running the golden vectors and timing them on this machine." };
        threshold.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 1)
            {
                r.AddError("--threshold must be 1 or more, for example --threshold 2");
            }
        });

        var command = new Command("verify", "Verify a package: manifest, k-of-n signatures, expiry, file lengths and hashes, model I/O, golden vectors.")
        {
            package, trusted, threshold, noGolden,
        };
        command.SetAction(parse => Run(parse.GetValue(package)!, UpdateText.List(parse.GetValue(trusted)), parse.GetValue(threshold), !parse.GetValue(noGolden)));
        return command;
    }

    private static int Run(string path, string[] keyPaths, int threshold, bool golden)
    {
        var keys = new List<TrustedKey>();
        foreach (string keyPath in keyPaths)
        {
            if (!File.Exists(keyPath))
            {
                return UpdateText.Usage("verify", $"--trusted {keyPath}: no such file");
            }

            try
            {
                keys.Add(TrustedKey.Load(keyPath));
            }
            catch (Exception ex) when (ex is FormatException or IOException or System.Security.Cryptography.CryptographicException)
            {
                return UpdateText.Usage("verify", $"--trusted {ex.Message}");
            }
        }

        int distinct = keys.Select(k => k.KeyId).Distinct().Count();
        if (threshold > distinct)
        {
            return UpdateText.Usage("verify", $"--threshold {threshold} is more than the {distinct} distinct trusted {(distinct == 1 ? "key" : "keys")} given");
        }

        if (!UpdateText.LoadOnnxRuntime("verify"))
        {
            return UpdateText.Refused;
        }

        string? directory = UpdateText.OpenPackage("verify", path, out Action cleanup, out int exitCode);
        if (directory is null)
        {
            return exitCode;
        }

        try
        {
            var verifier = new PackageVerifier(keys, threshold);
            PackageVerification verification = verifier.Verify(directory);
            var checks = new List<PackageCheck>(verification.Checks);
            if (verification.Passed && golden)
            {
                checks.AddRange(new GoldenGate().Run(directory, verification.Manifest!).Checks);
            }

            foreach (PackageCheck check in checks)
            {
                Console.Out.WriteLine(check.ToString());
            }

            if (checks.FirstOrDefault(c => !c.Passed) is { Failure: { } failure } failed)
            {
                Console.Out.WriteLine($"refused: {path} [{failure.ToCode()}] at the {failed.Name} check");
                return UpdateText.Refused;
            }

            Console.Out.WriteLine($"verified: {verification.Manifest} ({path}){(golden ? "" : "; golden vectors not run")}");
            return UpdateText.Ok;
        }
        finally
        {
            cleanup();
        }
    }
}
