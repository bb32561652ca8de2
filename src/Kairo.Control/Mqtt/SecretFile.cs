using System.Text;

namespace Kairo.Control.Mqtt;

/// <summary>Files holding secrets (the broker password, a TLS key): present and not readable by other users.</summary>
internal static class SecretFile
{
    /// <summary>Refuses a missing file, or one any user may read.</summary>
    public static void CheckPrivate(string path, string option)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"MQTT option {option}: the file '{path}' does not exist; create it (readable by the daemon's user only, mode 0600) or fix the path.", path);
        }

        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("Kairo's MQTT client runs on Linux only.");
        }

        UnixFileMode mode = File.GetUnixFileMode(path);
        if ((mode & UnixFileMode.OtherRead) != 0)
        {
            throw new InvalidOperationException(
                $"MQTT option {option}: the file '{path}' is readable by every user (mode {Octal(mode)}); it holds a secret, so restrict it: chmod 600 '{path}'.");
        }
    }

    /// <summary>The password in the file, without a trailing line break.</summary>
    public static string ReadPassword(string path, string option)
    {
        CheckPrivate(path, option);
        string password = File.ReadAllText(path, Encoding.UTF8).TrimEnd('\r', '\n');
        if (password.Length == 0)
        {
            throw new InvalidOperationException($"MQTT option {option}: the file '{path}' is empty; write the broker password into it.");
        }

        return password;
    }

    private static string Octal(UnixFileMode mode) => "0" + Convert.ToString((int)mode & 0x1FF, 8).PadLeft(3, '0');
}
