using System.CommandLine;
using System.Security.Cryptography;
using Kairo.Updates.Signing;

namespace Kairo.Ctl.Updates;

/// <summary>
/// <c>kairoctl keygen --out NAME</c>: a new ECDSA P-256 signing key as NAME.key (PKCS#8 PEM, mode 0600) and NAME.pub
/// (SubjectPublicKeyInfo PEM), printing its key id. Never overwrites a key.
/// </summary>
internal static class KeygenCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out")
        {
            Description = "The key's name: writes NAME.key (private, mode 0600) and NAME.pub (public, for the devices' trusted keys).",
            Required = true,
        };
        var command = new Command("keygen", "Make a package signing key (ECDSA P-256): NAME.key and NAME.pub.") { output };
        command.SetAction(parse => Run(parse.GetValue(output)!));
        return command;
    }

    private static int Run(string name)
    {
        if (name.EndsWith(".key", StringComparison.Ordinal) || name.EndsWith(".pub", StringComparison.Ordinal))
        {
            name = name[..^4];
        }

        string privatePath = name + ".key";
        string publicPath = name + ".pub";
        string? directory = Path.GetDirectoryName(Path.GetFullPath(privatePath));
        if (directory is not null && !Directory.Exists(directory))
        {
            return UpdateText.Usage("keygen", $"no such directory: {directory}");
        }

        try
        {
            using SigningKey key = SigningKey.Generate();
            key.Save(privatePath, publicPath);
            Console.Out.WriteLine($"wrote {privatePath} (private key, mode 0600: keep it off devices and out of version control)");
            Console.Out.WriteLine($"wrote {publicPath} (public key: add it to the trusted keys of the boards' profiles)");
            Console.Out.WriteLine($"key id {key.KeyId}");
            return UpdateText.Ok;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
        {
            return UpdateText.Fail("keygen", ex.Message);
        }
    }
}
