using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Kairo.Updates.Interop;
using Microsoft.Win32.SafeHandles;

namespace Kairo.Updates.Device;

/// <summary>
/// Writes that survive a power cut whole or not at all. A rename is atomic, but only durable once the directory
/// holding it is fsynced, and a file's bytes only once the file is: so write a temporary, fsync it, rename it over the
/// target, fsync the directory. After a crash the target holds the old bytes or the new ones, never a mix, and at
/// worst a <c>*.tmp-*</c> file is left behind for the owner to remove.
/// </summary>
public static class DurableFile
{
    /// <summary>The infix of the temporary files <see cref="WriteAtomically"/> leaves behind when it is interrupted.</summary>
    public const string TemporaryInfix = ".tmp-";

    /// <summary>Replaces <paramref name="path"/> with <paramref name="bytes"/> atomically and durably.</summary>
    public static void WriteAtomically(string path, ReadOnlySpan<byte> bytes)
    {
        string target = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(target)!;

        // Same directory as the target: a rename across file systems would be a copy, neither atomic nor durable.
        string temporary = $"{target}{TemporaryInfix}{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, target, overwrite: true);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }

        FsyncDirectory(directory);
    }

    /// <summary>
    /// Makes the entries of <paramref name="directory"/> durable: files created, renamed into or removed from it. A file
    /// system that cannot fsync a directory (EINVAL) is taken as one that needs no such fsync.
    /// </summary>
    /// <exception cref="IOException">The directory cannot be opened or fsync fails; the message names it and the error.</exception>
    public static void FsyncDirectory(string directory)
    {
        using SafeFileHandle handle = OpenForFsync(directory, Libc.O_DIRECTORY, "directory");
        Fsync(handle, directory, toleratesEinval: true);
    }

    /// <summary>Makes the bytes of an existing file durable (a file written by someone else, e.g. an extracted one).</summary>
    public static void FsyncFile(string path)
    {
        using SafeFileHandle handle = OpenForFsync(path, 0, "file");
        Fsync(handle, path, toleratesEinval: false);
    }

    private static SafeFileHandle OpenForFsync(string path, int flags, string what)
    {
        // .NET opens no directories and fsyncs no read-only file streams, hence open(2) itself. fsync needs no
        // write access on Linux, so a read-only descriptor serves files and directories alike.
        SafeFileHandle handle = Libc.Open(path, Libc.O_RDONLY | Libc.O_CLOEXEC | flags);
        if (handle.IsInvalid)
        {
            int errno = Marshal.GetLastPInvokeError();
            handle.Dispose();
            string message = $"cannot open {what} {path} to fsync it: {Libc.Describe(errno)}";
            throw errno != Libc.ENOENT ? new IOException(message, errno)
                : flags == Libc.O_DIRECTORY ? new DirectoryNotFoundException(message)
                : new FileNotFoundException(message, path);
        }

        return handle;
    }

    private static void Fsync(SafeFileHandle handle, string path, bool toleratesEinval)
    {
        while (Libc.FSync(handle) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == Libc.EINTR)
            {
                continue;
            }

            if (errno == Libc.EINVAL && toleratesEinval)
            {
                return;
            }

            throw new IOException($"fsync of {path} failed: {Libc.Describe(errno)}; the data may not be on disk (check the storage and the kernel log)", errno);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The original error matters more; the owner removes *.tmp-* leftovers when it opens.
        }
    }
}
