using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Kairo.Daemon.Config;

/// <summary>A profile that cannot be used; every line names a JSON path and what was expected there.</summary>
public sealed class ProfileException(string source, IReadOnlyList<string> errors)
    : Exception($"{source}: {errors.Count} problem{(errors.Count == 1 ? "" : "s")}:\n  " + string.Join("\n  ", errors))
{
    /// <summary>The file (or the embedded profile) the errors are about.</summary>
    public string ProfileSource { get; } = source;

    public IReadOnlyList<string> Errors { get; } = errors;
}

/// <summary>A loaded, checked profile and the directory its relative paths start from.</summary>
public sealed record LoadedProfile(Profile Profile, string Source, string BaseDirectory);

/// <summary>Reads profiles from files or from the demo profile embedded in kairod.</summary>
public static partial class ProfileLoader
{
    public const string EmbeddedName = "embedded:demo";

    public static LoadedProfile LoadFile(string path)
    {
        string full = Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            throw new ProfileException(path, ["the file does not exist"]);
        }

        return Parse(File.ReadAllBytes(full), path, Path.GetDirectoryName(full)!);
    }

    /// <summary>
    /// The demo profile built into kairod. It reads as if it were <c>firmware-config/demo.json</c> beside the binary,
    /// as it is in the bundle, so its <c>../models/</c> paths work the same from the file and from the binary.
    /// </summary>
    public static LoadedProfile LoadEmbedded()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("kairod.demo.json")
            ?? throw new InvalidOperationException("the embedded demo profile is missing from this build");
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        return Parse(memory.ToArray(), EmbeddedName, Path.Combine(AppContext.BaseDirectory, "firmware-config"));
    }

    public static LoadedProfile Parse(byte[] json, string source, string baseDirectory)
    {
        Profile? profile;
        try
        {
            profile = JsonSerializer.Deserialize(json, ProfileJsonContext.Default.Profile);
        }
        catch (JsonException e)
        {
            throw new ProfileException(source, [Describe(e)]);
        }

        if (profile == null)
        {
            throw new ProfileException(source, ["$: expected a JSON object, found null"]);
        }

        var errors = ProfileValidator.Validate(profile);
        if (errors.Count > 0)
        {
            throw new ProfileException(source, errors);
        }

        return new LoadedProfile(profile, source, baseDirectory);
    }

    /// <summary>Turns System.Text.Json's message into "$.path (line L, column C): expected X".</summary>
    private static string Describe(JsonException e)
    {
        string path = string.IsNullOrEmpty(e.Path) ? "$" : e.Path;
        string where = e.LineNumber is long line ? $" (line {line + 1}, column {(e.BytePositionInLine ?? 0) + 1})" : "";
        string message = e.Message;
        var unmapped = UnmappedPattern().Match(message);
        if (unmapped.Success)
        {
            return $"{path}{where}: unknown property '{unmapped.Groups[1].Value}'; check its spelling against docs/profile.md";
        }

        var conversion = ConversionPattern().Match(message);
        if (conversion.Success)
        {
            return $"{path}{where}: expected {FriendlyType(conversion.Groups[1].Value)}";
        }

        int cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return $"{path}{where}: {(cut > 0 ? message[..cut] : message)}";
    }

    private static string FriendlyType(string clrType) => clrType switch
    {
        "System.Double" or "System.Single" or "System.Nullable`1[System.Double]" => "a number",
        var t when t.Contains("Double") || t.Contains("Single") => "a number",
        var t when t.Contains("Int32") || t.Contains("Int64") || t.Contains("UInt64") => "an integer",
        var t when t.Contains("Boolean") => "true or false",
        var t when t.Contains("String") && t.Contains("Dictionary") => "an object of strings",
        var t when t.Contains("Dictionary") => "an object",
        var t when t.Contains("List") || t.Contains("[]") => "an array",
        var t when t.Contains("String") => "a string",
        _ => "an object",
    };

    [GeneratedRegex("The JSON property '([^']*)' could not be mapped")]
    private static partial Regex UnmappedPattern();

    [GeneratedRegex("could not be converted to ([^.\\s]+(?:\\.[^.\\s]+)*)")]
    private static partial Regex ConversionPattern();
}
