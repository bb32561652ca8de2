namespace Kairo.Updates.Packages;

/// <summary>
/// The names inside a package and the rules every listed path obeys: relative, '/'-separated, segments of
/// <c>A-Z a-z 0-9 . _ -</c> that do not start with a dot (so no <c>..</c>, no hidden files), at most
/// <see cref="MaxLength"/> characters. The rules keep a path inside the package on every file system and in a tar header.
/// </summary>
public static class PackagePaths
{
    public const string Manifest = "manifest.json";
    public const string Signatures = "signatures.json";
    public const string Model = "model.onnx";

    /// <summary>The extension of a package archive, <c>NAME-vVERSION.kpkg</c>.</summary>
    public const string ArchiveExtension = ".kpkg";

    public const int MaxLength = 200;

    /// <summary><c>pilotnet-v3.kpkg</c>.</summary>
    public static string ArchiveName(string model, long version) => $"{model}-v{version}{ArchiveExtension}";

    /// <summary>Why <paramref name="path"/> may not be listed in a manifest, or null when it may.</summary>
    public static string? Problem(string? path)
    {
        if (string.IsNullOrEmpty(path))
        {
            return "the path is empty";
        }

        if (path.Length > MaxLength)
        {
            return $"the path is {path.Length} characters long, more than {MaxLength}";
        }

        if (path[0] == '/')
        {
            return "the path is absolute; paths are relative to the package, e.g. test_data_set_0/input_0.pb";
        }

        if (path.Contains('\\'))
        {
            return "the path holds a backslash; paths separate directories with '/'";
        }

        if (path is Manifest or Signatures)
        {
            return $"{path} is the package's own metadata and is never listed";
        }

        foreach (string segment in path.Split('/'))
        {
            if (segment.Length == 0)
            {
                return "the path has an empty segment ('//' or a trailing '/')";
            }

            if (segment is "." or "..")
            {
                return $"the path holds '{segment}'; a listed path may not leave or name its own directory";
            }

            if (segment[0] == '.')
            {
                return $"segment '{segment}' starts with a dot; hidden files are not package contents";
            }

            foreach (char c in segment)
            {
                if (!IsAllowed(c))
                {
                    return $"segment '{segment}' holds '{Printable(c)}'; path segments use A-Z a-z 0-9 . _ - only";
                }
            }
        }

        return null;
    }

    /// <summary>The full path of a listed (valid) <paramref name="path"/> under <paramref name="root"/>.</summary>
    internal static string Resolve(string root, string path)
    {
        string full = Path.GetFullPath(Path.Combine(root, path));
        string prefix = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root)) + Path.DirectorySeparatorChar;
        if (!full.StartsWith(prefix, StringComparison.Ordinal))
        {
            // Problem() rules this out; the check stays so that no caller can ever read outside the package.
            throw new UpdateException(UpdateFailure.ManifestInvalid, $"'{path}' resolves outside the package");
        }

        return full;
    }

    private static bool IsAllowed(char c) => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '.' or '_' or '-';

    private static string Printable(char c) => char.IsControl(c) || char.IsWhiteSpace(c) ? $"\\u{(int)c:x4}" : c.ToString();
}
