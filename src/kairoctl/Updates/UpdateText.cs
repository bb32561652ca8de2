using System.Globalization;
using System.Reflection;
using Kairo.Onnx;
using Kairo.Updates;
using Kairo.Updates.Packages;

namespace Kairo.Ctl.Updates;

/// <summary>What the package commands share: exit codes, Kairo's version, the parsing of times and lists, package paths.</summary>
internal static class UpdateText
{
    public const int Ok = 0;

    /// <summary>The package (or key) was refused or could not be made; the message says why.</summary>
    public const int Refused = 1;

    /// <summary>This kairoctl's version, e.g. <c>0.1.0</c>: the default oldest Kairo a new package needs.</summary>
    public static string KairoVersion =>
        typeof(UpdateText).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.1.0";

    public static int Fail(string command, string message)
    {
        Console.Error.WriteLine($"kairoctl {command}: {message}");
        return Refused;
    }

    public static int Usage(string command, string message)
    {
        Console.Error.WriteLine($"kairoctl {command}: {message}");
        return CtlCommand.UsageError;
    }

    public static int Refusal(string command, UpdateException ex) => Fail(command, $"[{ex.Code}] {ex.Message}");

    /// <summary>Loads ONNX Runtime; false after printing why it could not.</summary>
    public static bool LoadOnnxRuntime(string command)
    {
        try
        {
            OnnxRuntimeLibrary.Load();
            return true;
        }
        catch (DllNotFoundException ex)
        {
            Console.Error.WriteLine($"kairoctl {command}: {ex.Message}");
            return false;
        }
    }

    /// <summary>
    /// <c>30d</c>, <c>12h</c>, <c>90m</c> from <paramref name="now"/>; or a UTC date (<c>2026-01-31</c>, midnight) or
    /// time (<c>2026-01-31T12:00:00Z</c>). Null when it is none of these.
    /// </summary>
    public static DateTimeOffset? ParseExpiry(string text, DateTimeOffset now)
    {
        if (text.Length >= 2 && long.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out long amount) && amount is > 0 and < 100_000)
        {
            TimeSpan? span = text[^1] switch
            {
                'd' => TimeSpan.FromDays(amount),
                'h' => TimeSpan.FromHours(amount),
                'm' => TimeSpan.FromMinutes(amount),
                _ => null,
            };
            if (span is { } s)
            {
                return now + s;
            }
        }

        string[] formats = ["yyyy-MM-dd", "yyyy-MM-dd'T'HH:mm:ss'Z'", "yyyy-MM-dd'T'HH:mm'Z'"];
        return DateTimeOffset.TryParseExact(text, formats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var instant)
            ? instant
            : null;
    }

    /// <summary>Values of a repeatable option whose values may also be comma-separated.</summary>
    public static string[] List(IEnumerable<string>? values) =>
        (values ?? []).SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray();

    public static string Bytes(long bytes) => bytes switch
    {
        < 10 << 10 => string.Create(CultureInfo.InvariantCulture, $"{bytes} B"),
        < 10 << 20 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:F1} KiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1048576.0:F1} MiB"),
    };

    /// <summary>
    /// The package directory for <paramref name="path"/>: the directory itself, or a <c>.kpkg</c> extracted into a
    /// temporary directory that <paramref name="cleanup"/> removes. Null after printing why.
    /// </summary>
    public static string? OpenPackage(string command, string path, out Action cleanup, out int exitCode)
    {
        cleanup = () => { };
        exitCode = Ok;
        if (Directory.Exists(path))
        {
            return path;
        }

        if (!PackageArchive.IsArchive(path))
        {
            exitCode = Usage(command, File.Exists(path)
                ? $"{path} is neither a package directory nor a {PackagePaths.ArchiveExtension} archive"
                : $"no such package directory or archive: {path}");
            return null;
        }

        DirectoryInfo temporary = Directory.CreateTempSubdirectory("kairo-kpkg-");
        cleanup = () => temporary.Delete(recursive: true);
        try
        {
            PackageArchive.Extract(path, temporary.FullName);
            return temporary.FullName;
        }
        catch (UpdateException ex)
        {
            cleanup();
            cleanup = () => { };
            exitCode = Refusal(command, ex);
            return null;
        }
        catch (IOException ex)
        {
            cleanup();
            cleanup = () => { };
            exitCode = Fail(command, $"cannot extract {path}: {ex.Message}");
            return null;
        }
    }
}
