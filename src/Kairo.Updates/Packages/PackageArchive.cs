using System.Formats.Tar;

namespace Kairo.Updates.Packages;

/// <summary>
/// A package as one uncompressed POSIX (ustar) tar, <c>NAME-vVERSION.kpkg</c>, for transport: manifest.json first,
/// signatures.json next when there is one, then the listed directories and files in manifest order. Extracting takes
/// regular files and directories with names a manifest could list, and nothing else.
/// </summary>
public static class PackageArchive
{
    private const UnixFileMode FileMode644 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    private const UnixFileMode DirectoryMode755 = FileMode644 | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    /// <summary>True for a path that names a package archive (an existing <c>.kpkg</c> file).</summary>
    public static bool IsArchive(string path) =>
        path.EndsWith(PackagePaths.ArchiveExtension, StringComparison.OrdinalIgnoreCase) && File.Exists(path);

    /// <summary>
    /// Writes the package in <paramref name="directory"/> to <paramref name="archivePath"/> (replaced whole). Only
    /// manifest.json, signatures.json and the listed files go in; entries carry mode 0644/0755, owner 0 and the
    /// manifest's creation time, so the same package gives the same bytes.
    /// </summary>
    public static void Write(string directory, string archivePath)
    {
        PackageVerifier.ReadManifest(directory, out _, out PackageManifest? manifest).ThrowIfFailed();
        string target = Path.GetFullPath(archivePath);
        string temporary = $"{target}.{Path.GetRandomFileName()}.tmp";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                using (var writer = new TarWriter(stream, TarEntryFormat.Ustar, leaveOpen: true))
                {
                    AddFile(writer, directory, PackagePaths.Manifest, manifest!.Created);
                    if (File.Exists(Path.Combine(directory, PackagePaths.Signatures)))
                    {
                        AddFile(writer, directory, PackagePaths.Signatures, manifest.Created);
                    }

                    var written = new HashSet<string>(StringComparer.Ordinal);
                    foreach (PackageFile file in manifest.Files)
                    {
                        for (int slash = file.Path.IndexOf('/'); slash >= 0; slash = file.Path.IndexOf('/', slash + 1))
                        {
                            string parent = file.Path[..(slash + 1)];
                            if (written.Add(parent))
                            {
                                writer.WriteEntry(new UstarTarEntry(TarEntryType.Directory, parent) { Mode = DirectoryMode755, ModificationTime = manifest.Created });
                            }
                        }

                        AddFile(writer, directory, file.Path, manifest.Created);
                    }
                }

                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, target, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    /// <summary>
    /// Extracts an archive into <paramref name="destination"/> (created; must be empty). Throws
    /// <see cref="UpdateException"/> with <see cref="UpdateFailure.PackageInvalid"/> for a malformed archive, an entry
    /// that is not a regular file or directory, a name a manifest could not list, or a name given twice. The result
    /// is then verified like any package directory.
    /// </summary>
    /// <param name="afterFirstFile">Runs once, right after the first regular file is written and closed: the model
    /// store's crash tests stop there to leave a half-extracted package behind.</param>
    public static void Extract(string archivePath, string destination, Action? afterFirstFile = null)
    {
        string root = Path.GetFullPath(destination);
        Directory.CreateDirectory(root);
        if (Directory.EnumerateFileSystemEntries(root).Any())
        {
            throw new IOException($"{destination} is not empty; a package is extracted into an empty directory");
        }

        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        int entries = 0;
        try
        {
            using var stream = new FileStream(archivePath, FileMode.Open, FileAccess.Read, FileShare.Read);
            using var reader = new TarReader(stream);
            for (TarEntry? entry; (entry = reader.GetNextEntry(copyData: false)) is not null;)
            {
                if (++entries > (2 * PackageManifest.MaxFiles) + 2)
                {
                    throw Invalid(archivePath, $"more than {(2 * PackageManifest.MaxFiles) + 2} entries");
                }

                string name = entry.Name.StartsWith("./", StringComparison.Ordinal) ? entry.Name[2..] : entry.Name;
                bool isDirectory = entry.EntryType == TarEntryType.Directory;
                name = isDirectory ? name.TrimEnd('/') : name;
                if (isDirectory && name.Length == 0)
                {
                    continue; // the archive's own root, "./"
                }

                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.Directory))
                {
                    throw Invalid(archivePath, $"entry '{entry.Name}' is a {entry.EntryType}; a package archive holds regular files and directories only");
                }

                bool metadata = !isDirectory && name is PackagePaths.Manifest or PackagePaths.Signatures;
                if (!metadata && PackagePaths.Problem(name) is { } problem)
                {
                    throw Invalid(archivePath, $"entry '{entry.Name}' is refused: {problem}");
                }

                if (!seen.Add(name))
                {
                    throw Invalid(archivePath, $"entry '{entry.Name}' appears twice");
                }

                string path = PackagePaths.Resolve(root, name);
                if (isDirectory)
                {
                    Directory.CreateDirectory(path);
                    continue;
                }

                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None))
                {
                    entry.DataStream?.CopyTo(file);
                }

                if (afterFirstFile is not null)
                {
                    Action hook = afterFirstFile;
                    afterFirstFile = null;
                    hook();
                }
            }
        }
        catch (Exception ex) when (ex is InvalidDataException or FormatException or EndOfStreamException or ArgumentException)
        {
            throw Invalid(archivePath, $"not a readable tar archive: {ex.Message}", ex);
        }
    }

    private static void AddFile(TarWriter writer, string directory, string name, DateTimeOffset modified)
    {
        using var data = new FileStream(Path.Combine(directory, name), FileMode.Open, FileAccess.Read, FileShare.Read);
        writer.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, name) { Mode = FileMode644, ModificationTime = modified, DataStream = data });
    }

    private static UpdateException Invalid(string archivePath, string message, Exception? inner = null) =>
        new(UpdateFailure.PackageInvalid, $"{archivePath}: {message}", inner);
}
