using System.CommandLine;
using System.Security.Cryptography;
using Kairo.Updates;
using Kairo.Updates.Packages;
using Kairo.Updates.Signing;

namespace Kairo.Ctl.Updates;

/// <summary>
/// <c>kairoctl sign DIR|FILE.kpkg --key NAME.key [--key ...]</c>: adds each key's signature over manifest.json to
/// signatures.json, replacing an earlier one by the same key. The package's files must match its manifest first.
/// </summary>
internal static class SignCommand
{
    private const UnixFileMode OthersMayAccess = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    public static Command Create()
    {
        var package = new Argument<string>("PACKAGE") { Description = "A package directory or a .kpkg archive (rewritten with the new signatures)." };
        var keys = new Option<string[]>("--key")
        {
            Description = "A private key file (NAME.key from kairoctl keygen); repeat for several signatures.",
            Required = true,
            AllowMultipleArgumentsPerToken = false,
        };
        var command = new Command("sign", "Sign a package's manifest with one or more keys (k-of-n: each key adds one signature).") { package, keys };
        command.SetAction(parse => Run(parse.GetValue(package)!, UpdateText.List(parse.GetValue(keys))));
        return command;
    }

    private static int Run(string path, string[] keyPaths)
    {
        var keys = new List<(string Path, SigningKey Key)>();
        try
        {
            foreach (string keyPath in keyPaths)
            {
                if (!File.Exists(keyPath))
                {
                    return UpdateText.Usage("sign", $"--key {keyPath}: no such file");
                }

                if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(keyPath) & OthersMayAccess) != 0)
                {
                    Console.Error.WriteLine($"kairoctl sign: warning: {keyPath} is readable by others than its owner; chmod 600 {keyPath}");
                }

                try
                {
                    keys.Add((keyPath, SigningKey.Load(keyPath)));
                }
                catch (Exception ex) when (ex is FormatException or CryptographicException or IOException)
                {
                    return UpdateText.Usage("sign", $"--key {ex.Message}");
                }
            }

            string? directory = UpdateText.OpenPackage("sign", path, out Action cleanup, out int exitCode);
            if (directory is null)
            {
                return exitCode;
            }

            try
            {
                IReadOnlyList<PackageSignature> signatures = [];
                foreach (var (keyPath, key) in keys)
                {
                    signatures = PackageSigner.Sign(directory, key);
                    Console.Out.WriteLine($"signed with {keyPath}: key id {key.KeyId}");
                }

                if (directory != path)
                {
                    PackageArchive.Write(directory, path);
                    Console.Out.WriteLine($"rewrote {path}");
                }

                Console.Out.WriteLine($"{path} has {signatures.Count} {(signatures.Count == 1 ? "signature" : "signatures")}: {string.Join(", ", signatures.Select(s => s.KeyId[..16]))}");
                return UpdateText.Ok;
            }
            catch (UpdateException ex)
            {
                return UpdateText.Refusal("sign", ex);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return UpdateText.Fail("sign", ex.Message);
            }
            finally
            {
                cleanup();
            }
        }
        finally
        {
            foreach (var (_, key) in keys)
            {
                key.Dispose();
            }
        }
    }
}
