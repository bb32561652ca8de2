using System.Globalization;
using System.Security.Cryptography;

namespace Kairo.Updates.Packages;

// The files: each listed one as signed, and nothing else.
public sealed partial class PackageVerifier
{
    /// <summary>Checks every listed file in manifest order (<see cref="CheckFile"/>), stopping at the first that fails.</summary>
    public static PackageCheck CheckFiles(string directory, PackageManifest manifest, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        foreach (PackageFile file in manifest.Files)
        {
            PackageCheck check = CheckFile(directory, file, cancellationToken);
            if (!check.Passed)
            {
                return check;
            }
        }

        return PackageCheck.Pass("files", string.Create(CultureInfo.InvariantCulture,
            $"{manifest.Files.Count} files, {manifest.TotalLength} bytes: lengths and SHA-256 match the manifest"));
    }

    /// <summary>
    /// One listed file: present, a regular file reached through no link, exactly the signed length (a longer file is
    /// caught after reading one byte past it), and the signed SHA-256.
    /// </summary>
    public static PackageCheck CheckFile(string directory, PackageFile file, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(file);
        if (PackageFiles.Refusal(directory, file.Path) is { } refusal)
        {
            return refusal;
        }

        string path = PackagePaths.Resolve(directory, file.Path);
        try
        {
            long onDisk = new FileInfo(path).Length;
            if (onDisk != file.Length)
            {
                return LengthFailure(file, onDisk, exact: true);
            }

            (long read, byte[] sha256) = PackageFiles.HashCapped(path, file.Length, cancellationToken);
            if (read != file.Length)
            {
                return LengthFailure(file, read, exact: false); // the file changed while it was read
            }

            byte[] expected = Convert.FromHexString(file.Sha256);
            if (!CryptographicOperations.FixedTimeEquals(sha256, expected))
            {
                return PackageCheck.Fail("files", UpdateFailure.FileHash,
                    $"{file.Path}: SHA-256 is {Convert.ToHexStringLower(sha256)}, the manifest signed {file.Sha256}; the file was changed or comes from another package");
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return PackageCheck.Fail("files", UpdateFailure.FileMissing, $"{file.Path} cannot be read: {ex.Message}");
        }

        return PackageCheck.Pass("files", string.Create(CultureInfo.InvariantCulture, $"{file.Path}: {file.Length} bytes, SHA-256 matches"));
    }

    /// <summary>
    /// Fails for any file or directory the manifest does not account for (besides manifest.json and signatures.json),
    /// and for any link: what a package holds is exactly what was signed.
    /// </summary>
    public static PackageCheck CheckUnlisted(string directory, PackageManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var listed = new HashSet<string>(manifest.Files.Select(f => f.Path), StringComparer.Ordinal) { PackagePaths.Manifest, PackagePaths.Signatures };
        var directories = new HashSet<string>(StringComparer.Ordinal);
        foreach (PackageFile file in manifest.Files)
        {
            for (int slash = file.Path.IndexOf('/'); slash >= 0; slash = file.Path.IndexOf('/', slash + 1))
            {
                directories.Add(file.Path[..slash]);
            }
        }

        string root = Path.GetFullPath(directory);
        var unlisted = new List<string>();
        var options = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = false };
        try
        {
            foreach (FileSystemInfo entry in new DirectoryInfo(root).EnumerateFileSystemInfos("*", options))
            {
                string relative = Path.GetRelativePath(root, entry.FullName).Replace(Path.DirectorySeparatorChar, '/');
                if (entry.LinkTarget is not null)
                {
                    return PackageCheck.Fail("unlisted", UpdateFailure.PackageInvalid,
                        $"{relative} is a symbolic link; a package holds regular files and directories only");
                }

                bool accounted = entry is DirectoryInfo ? directories.Contains(relative) : listed.Contains(relative);
                if (!accounted)
                {
                    unlisted.Add(entry is DirectoryInfo ? relative + "/" : relative);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return PackageCheck.Fail("unlisted", UpdateFailure.PackageInvalid, $"cannot list {directory}: {ex.Message}");
        }

        if (unlisted.Count > 0)
        {
            unlisted.Sort(StringComparer.Ordinal);
            string shown = string.Join(", ", unlisted.Take(5)) + (unlisted.Count > 5 ? $" and {unlisted.Count - 5} more" : "");
            return PackageCheck.Fail("unlisted", UpdateFailure.FileUnlisted,
                $"the package holds what its manifest does not list: {shown}. A package is exactly its signed files; remove these or pack again");
        }

        return PackageCheck.Pass("unlisted", "nothing in the package but the manifest, the signatures and the listed files");
    }

    private static PackageCheck LengthFailure(PackageFile file, long actual, bool exact) => PackageCheck.Fail("files", UpdateFailure.FileLength,
        actual > file.Length
            ? $"{file.Path} is {(exact ? "" : "at least ")}{actual} bytes, longer than the {file.Length} signed; bytes were added to it"
            : $"{file.Path} is {actual} bytes, shorter than the {file.Length} signed; an interrupted copy or download?");
}
