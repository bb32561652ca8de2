using System.Formats.Tar;
using System.Runtime.ExceptionServices;
using System.Security.Cryptography;
using Kairo.Updates.Packages;
using IODirectory = System.IO.Directory;

namespace Kairo.Updates.Device;

/// <summary>One installed package of a model: its version, release and the store digest (SHA-256 of its manifest.json).</summary>
public sealed record InstalledVersion(long Version, string Release, string Digest);

/// <summary>What the store knows of one model: the active version, the rollback target, older kept ones, the highest version ever committed.</summary>
public sealed record InstalledModel(string Model, InstalledVersion? Active, InstalledVersion? Previous, IReadOnlyList<InstalledVersion> Older, long HighestVersion);

/// <summary>
/// The content-addressed model store under the state directory: <c>store/packages/{digest}/</c> holds one verified
/// package directory each, named by the SHA-256 of its manifest.json; <c>store/installed.json</c> says per model
/// which is active, which is the rollback target, and the highest version ever committed. A package enters by
/// extraction into <c>store/tmp/</c>, fsync of every file and directory, and one atomic rename, so a package
/// directory under <c>packages/</c> is always whole. installed.json is replaced atomically (write, fsync, rename,
/// fsync the directory).
/// </summary>
/// <remarks>
/// <para>A package leaves the same way it came: renamed out of <c>packages/</c> into <c>tmp/</c> first, then deleted,
/// so a crash halfway through a removal never leaves a partial directory that looks stored.</para>
/// <para>A package staged by this instance is kept by <see cref="Cleanup"/> until it is committed (then installed.json
/// keeps it) or <see cref="Release"/>d, so that a commit of one model cannot remove another model's package between its
/// stage and its commit. The pins live in memory: after a restart an uncommitted package is unreferenced and goes at
/// the next cleanup (staging it again is cheap while its archive is kept).</para>
/// <para>installed.json is the only record of what is installed, so a file that does not read (not JSON, a member
/// missing or out of range, a newer schema) is never taken as empty: every method that needs it throws
/// <see cref="InvalidDataException"/> naming the file and the fix, and <see cref="Cleanup"/> removes nothing.</para>
/// <para>Thread-safe within one process; one process owns a store directory.</para>
/// </remarks>
public sealed partial class ModelStore
{
    private const string PackagesName = "packages";
    private const string TmpName = "tmp";

    private readonly string _packages;
    private readonly string _tmp;
    private readonly int _keepOlder;

    // Guards installed.json, the pins and the busy names, and every rename into or out of packages/, so that a
    // cleanup's view of what is kept cannot go stale before it acts on it. Extraction and deletion run outside it.
    private readonly Lock _gate = new();

    /// <summary>Digests staged by this instance and not yet committed or released: kept by cleanup.</summary>
    private readonly HashSet<string> _pinned = new(StringComparer.Ordinal);

    /// <summary>Names in tmp/ a stage or a removal of this instance is working on: not leftovers.</summary>
    private readonly HashSet<string> _busy = new(StringComparer.Ordinal);

    /// <param name="directory">The store's root, e.g. <c>/var/lib/kairo/store</c>; created when missing.</param>
    /// <param name="keepOlder">How many versions per model to keep besides the active one and the rollback target.</param>
    public ModelStore(string directory, int keepOlder = 1)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentOutOfRangeException.ThrowIfNegative(keepOlder);
        Directory = Path.GetFullPath(directory);
        _packages = Path.Combine(Directory, PackagesName);
        _tmp = Path.Combine(Directory, TmpName);
        InstalledPath = Path.Combine(Directory, InstalledFileName);
        _keepOlder = keepOlder;
        IODirectory.CreateDirectory(_packages);
        IODirectory.CreateDirectory(_tmp);
    }

    public string Directory { get; }

    /// <summary>The directory of a stored package.</summary>
    /// <exception cref="ArgumentException"><paramref name="digest"/> is not 64 lowercase hex digits.</exception>
    public string PathOf(string digest)
    {
        if (!IsDigest(digest))
        {
            throw new ArgumentException($"'{digest}' is not a store digest; a digest is the 64 lowercase hex digits of a manifest.json's SHA-256", nameof(digest));
        }

        return Path.Combine(_packages, digest);
    }

    /// <summary>True when the package is stored; false also for a string that is no digest.</summary>
    public bool Contains(string digest) => IsDigest(digest) && IODirectory.Exists(Path.Combine(_packages, digest));

    /// <summary>
    /// Extracts the archive at <paramref name="archivePath"/> into the store (nothing when the digest is already
    /// stored) and returns the digest. <paramref name="afterFirstFile"/> runs once the first file is written, before
    /// the rename (crash tests pause there). Leftovers of an interrupted stage are removed first.
    /// </summary>
    /// <remarks>
    /// Cancellation is checked before the extraction, after the first file, and between the fsyncs; a cancelled or
    /// failed stage leaves nothing behind in tmp/ or packages/. An exception thrown by <paramref name="afterFirstFile"/>
    /// propagates as it is, with the same clean-up.
    /// </remarks>
    /// <exception cref="UpdateException">package_invalid for a bad archive; manifest_invalid, file_missing, file_length,
    /// file_hash or file_unlisted when the extracted files are not those its manifest lists (the store checks each
    /// file's length and SHA-256 before the rename; it does not check signatures); store_failed for an I/O error.</exception>
    public string Stage(string archivePath, Action? afterFirstFile = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(archivePath);
        cancellationToken.ThrowIfCancellationRequested();
        string? busyName = null;
        string? staging = null;
        try
        {
            string digest = ReadDigest(archivePath);
            string target = Path.Combine(_packages, digest);
            lock (_gate)
            {
                if (IODirectory.Exists(target))
                {
                    _pinned.Add(digest);
                    return digest;
                }
            }

            RemoveLeftovers(ClaimTmpLeftovers());
            busyName = $"{digest}-{RandomSuffix()}";
            staging = Path.Combine(_tmp, busyName);
            lock (_gate)
            {
                _busy.Add(busyName);
            }

            PackageArchive.Extract(archivePath, staging, () =>
            {
                try
                {
                    afterFirstFile?.Invoke();
                }
                catch (Exception ex)
                {
                    // Extract turns some exception types into package_invalid; the caller's own must pass untouched.
                    throw new HookException(ex);
                }

                cancellationToken.ThrowIfCancellationRequested();
            });

            // The digest was read from the archive before the extraction: make sure the stored bytes are those, in
            // case the archive was replaced in between.
            string manifest = Path.Combine(staging, PackagePaths.Manifest);
            if (!File.Exists(manifest) || HashFile(manifest) != digest)
            {
                throw Invalid(archivePath, "manifest.json changed while the archive was being staged; stage it again once nothing writes to it");
            }

            // The digest names the manifest, so what is stored under it must be that package: a truncated archive
            // can end cleanly between two entries, and a damaged one was read twice (verify, then stage). Checked
            // here, a bad copy never gets a name that makes the next stage of a good archive a no-op.
            CheckExtracted(archivePath, staging, cancellationToken);
            SyncTree(new DirectoryInfo(staging), cancellationToken);
            cancellationToken.ThrowIfCancellationRequested();
            lock (_gate)
            {
                // A concurrent stage of the same package may have got there first: then its copy serves, and ours
                // is removed below like any leftover.
                if (!IODirectory.Exists(target))
                {
                    IODirectory.Move(staging, target);
                }

                _pinned.Add(digest);
            }

            DurableFile.FsyncDirectory(_packages);
            return digest;
        }
        catch (HookException ex)
        {
            ExceptionDispatchInfo.Throw(ex.InnerException!);
            throw;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new UpdateException(
                UpdateFailure.StoreFailed,
                $"cannot stage {archivePath} into the model store {Directory}: {ex.Message}; check the state directory's file system (free space, permissions, the kernel log)",
                ex);
        }
        finally
        {
            if (staging is not null)
            {
                TryDeleteTree(staging);
            }

            if (busyName is not null)
            {
                lock (_gate)
                {
                    _busy.Remove(busyName);
                }
            }
        }
    }

    /// <summary>
    /// Lets <see cref="Cleanup"/> remove a package this instance staged but will not commit (its update failed). A
    /// package that is committed needs no release.
    /// </summary>
    internal void Release(string digest)
    {
        lock (_gate)
        {
            _pinned.Remove(digest);
        }
    }

    /// <summary>Deletes package directories no model keeps (and leftovers in tmp/).</summary>
    /// <exception cref="InvalidDataException">installed.json does not read; nothing is removed.</exception>
    /// <exception cref="IOException">A directory could not be removed; the next cleanup tries again.</exception>
    public void Cleanup()
    {
        var doomed = new List<string>();
        bool renamed = false;
        try
        {
            lock (_gate)
            {
                var kept = new HashSet<string>(_pinned, StringComparer.Ordinal);
                foreach (InstalledModel model in Load().Values)
                {
                    foreach (InstalledVersion version in Kept(model))
                    {
                        kept.Add(version.Digest);
                    }
                }

                foreach (string entry in IODirectory.EnumerateFileSystemEntries(_packages))
                {
                    string name = Path.GetFileName(entry);
                    if (kept.Contains(name))
                    {
                        continue;
                    }

                    string removal = $"{name}.removing-{RandomSuffix()}";
                    if (!TryMove(entry, Path.Combine(_tmp, removal)))
                    {
                        continue; // gone already: removed twice is removed
                    }

                    renamed = true;
                    _busy.Add(removal);
                    doomed.Add(removal);
                }

                doomed.AddRange(ClaimTmpLeftoversLocked());
            }

            if (renamed)
            {
                DurableFile.FsyncDirectory(_packages);
            }
        }
        finally
        {
            RemoveLeftovers(doomed);
        }
    }

    internal static bool IsDigest(string? value)
    {
        if (value is not { Length: 64 })
        {
            return false;
        }

        foreach (char c in value)
        {
            if (c is not ((>= '0' and <= '9') or (>= 'a' and <= 'f')))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The SHA-256 of the archive's first entry, which must be manifest.json.</summary>
    private static string ReadDigest(string archivePath)
    {
        try
        {
            using var stream = new FileStream(archivePath, FileMode.Open, FileAccess.Read, FileShare.Read);
            using var reader = new TarReader(stream);
            TarEntry? first = reader.GetNextEntry(copyData: false);
            if (first is null)
            {
                throw Invalid(archivePath, "the archive holds no entries; a package archive starts with manifest.json");
            }

            string name = first.Name.StartsWith("./", StringComparison.Ordinal) ? first.Name[2..] : first.Name;
            if (name != PackagePaths.Manifest || first.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile))
            {
                throw Invalid(archivePath, $"the first entry is '{first.Name}' ({first.EntryType}); a package archive starts with the file manifest.json (make it with kairoctl pack --tar)");
            }

            if (first.Length > PackageManifest.MaxBytes)
            {
                throw Invalid(archivePath, $"manifest.json is {first.Length} bytes, over the limit of {PackageManifest.MaxBytes}");
            }

            return Convert.ToHexStringLower(SHA256.HashData(first.DataStream ?? Stream.Null));
        }
        catch (Exception ex) when (ex is InvalidDataException or FormatException or EndOfStreamException or ArgumentException)
        {
            throw Invalid(archivePath, $"not a readable tar archive: {ex.Message}", ex);
        }
    }

    private static void CheckExtracted(string archivePath, string staging, CancellationToken cancellationToken)
    {
        PackageCheck check = PackageVerifier.ReadManifest(staging, out _, out PackageManifest? manifest);
        if (check.Passed)
        {
            check = PackageVerifier.CheckFiles(staging, manifest!, cancellationToken);
        }

        if (check.Passed)
        {
            check = PackageVerifier.CheckUnlisted(staging, manifest!);
        }

        if (check.Failure is { } failure)
        {
            throw new UpdateException(failure, $"{archivePath}: {check.Detail}");
        }
    }

    private static string HashFile(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>fsyncs every file, then every directory bottom-up, so that the rename publishes bytes that are on disk.</summary>
    private static void SyncTree(DirectoryInfo directory, CancellationToken cancellationToken)
    {
        foreach (FileSystemInfo entry in directory.EnumerateFileSystemInfos())
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (entry is DirectoryInfo subdirectory)
            {
                SyncTree(subdirectory, cancellationToken);
            }
            else
            {
                DurableFile.FsyncFile(entry.FullName);
            }
        }

        DurableFile.FsyncDirectory(directory.FullName);
    }

    /// <summary>Entries of tmp/ no stage or removal of this instance is working on, claimed for removal.</summary>
    private List<string> ClaimTmpLeftovers()
    {
        lock (_gate)
        {
            return ClaimTmpLeftoversLocked();
        }
    }

    private List<string> ClaimTmpLeftoversLocked()
    {
        var leftovers = new List<string>();
        foreach (string entry in IODirectory.EnumerateFileSystemEntries(_tmp))
        {
            string name = Path.GetFileName(entry);
            if (_busy.Add(name))
            {
                leftovers.Add(name);
            }
        }

        return leftovers;
    }

    /// <summary>Deletes claimed names in tmp/ and releases them; throws the first failure once all were tried.</summary>
    private void RemoveLeftovers(List<string> names)
    {
        Exception? failure = null;
        foreach (string name in names)
        {
            try
            {
                DeleteTree(Path.Combine(_tmp, name));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                failure ??= ex;
            }
            finally
            {
                lock (_gate)
                {
                    _busy.Remove(name);
                }
            }
        }

        if (failure is not null)
        {
            ExceptionDispatchInfo.Throw(failure);
        }
    }

    private static void DeleteTree(string path)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                var directory = new DirectoryInfo(path);
                if (directory.Exists && directory.LinkTarget is null)
                {
                    directory.Delete(recursive: true);
                }
                else
                {
                    File.Delete(path);
                }

                return;
            }
            catch (DirectoryNotFoundException) when (attempt < 3 || !Path.Exists(path))
            {
                // Someone else removed part of the tree meanwhile (removed twice is removed); what they left, go on with.
                if (!Path.Exists(path))
                {
                    return;
                }
            }
        }
    }

    private static void TryDeleteTree(string path)
    {
        try
        {
            DeleteTree(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The stage's own error matters more; the next stage or cleanup removes what is left in tmp/.
        }
    }

    private static bool TryMove(string source, string destination)
    {
        try
        {
            if (IODirectory.Exists(source))
            {
                IODirectory.Move(source, destination);
            }
            else
            {
                File.Move(source, destination);
            }

            return true;
        }
        catch (Exception ex) when (ex is DirectoryNotFoundException or FileNotFoundException)
        {
            return false;
        }
    }

    private static string RandomSuffix() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));

    private static UpdateException Invalid(string archivePath, string message, Exception? inner = null) =>
        new(UpdateFailure.PackageInvalid, $"{archivePath}: {message}", inner);

    /// <summary>Carries an exception of the caller's afterFirstFile through the extraction.</summary>
    private sealed class HookException(Exception inner) : Exception(inner.Message, inner);
}
