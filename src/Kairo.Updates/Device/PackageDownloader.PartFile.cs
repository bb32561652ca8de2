using System.Globalization;

namespace Kairo.Updates.Device;

// The part file: the archive's bytes so far, flushed to disk often enough that a power cut loses little.
public sealed partial class PackageDownloader
{
    /// <summary>Bytes written between flushes to disk: what a crash may cost, against an fsync per chunk.</summary>
    internal const int FlushEveryBytes = 1 << 20;

    internal sealed class PartFile(string path) : IDisposable
    {
        private FileStream? _stream;
        private long _unflushed;

        public string Path => path;

        /// <summary>Bytes in the file, which is where the next request starts.</summary>
        public long Length { get; private set; } = File.Exists(path) ? new FileInfo(path).Length : 0;

        /// <summary>Up to <paramref name="maxBytes"/> from the file's start: the head of an earlier attempt's archive.</summary>
        public byte[] ReadStart(long maxBytes)
        {
            if (Length == 0)
            {
                return [];
            }

            try
            {
                using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                byte[] bytes = new byte[(int)Math.Min(Length, maxBytes)];
                stream.ReadExactly(bytes);
                return bytes;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw Failed("read", ex);
            }
        }

        public void Write(ReadOnlySpan<byte> bytes)
        {
            if (bytes.IsEmpty)
            {
                return;
            }

            try
            {
                FileStream stream = Open();
                stream.Write(bytes);
                Length += bytes.Length;
                _unflushed += bytes.Length;
                if (_unflushed >= FlushEveryBytes)
                {
                    stream.Flush(flushToDisk: true);
                    _unflushed = 0;
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw Failed("write", ex);
            }
        }

        /// <summary>Empties the file: the server sends the archive from its first byte.</summary>
        public void Truncate()
        {
            if (Length == 0 && _stream is null)
            {
                return;
            }

            try
            {
                FileStream stream = Open();
                stream.SetLength(0);
                stream.Position = 0;
                Length = 0;
                _unflushed = 0;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw Failed("truncate", ex);
            }
        }

        public void FlushToDisk()
        {
            try
            {
                _stream?.Flush(flushToDisk: true);
                _unflushed = 0;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw Failed("flush", ex);
            }
        }

        /// <summary>Removes the file: what it holds belongs to a refused package.</summary>
        public void Delete()
        {
            _stream?.Dispose();
            _stream = null;
            Length = 0;
            try
            {
                File.Delete(path);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // The refusal matters more than the leftover; the next download of the same job truncates or resumes it.
            }
        }

        public void Dispose()
        {
            try
            {
                _stream?.Dispose();
            }
            catch (IOException)
            {
                // Disposing flushes; a disk that fails here failed the download already.
            }

            _stream = null;
        }

        /// <summary>
        /// Throws <see cref="UpdateFailure.NoSpace"/> unless the part file's file system has room for
        /// <paramref name="remaining"/> more bytes, the staged copy and the reserve.
        /// </summary>
        public void CheckSpace(long remaining, long staged, long reserve)
        {
            string directory = System.IO.Path.GetDirectoryName(path)!;
            long available;
            try
            {
                // On Linux DriveInfo takes any path and asks statvfs(2) about the file system holding it.
                available = new DriveInfo(directory).AvailableFreeSpace;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
            {
                return; // free space unknown: a full disk still shows as ENOSPC on write, which is no_space too
            }

            long needed = Add(Add(Math.Max(0, remaining), staged), reserve);
            if (available < needed)
            {
                throw new UpdateException(UpdateFailure.NoSpace, string.Create(CultureInfo.InvariantCulture,
                    $"{directory} has {available} bytes free; the update needs {needed}: {Math.Max(0, remaining)} still to download, {staged} for the staged copy and {reserve} kept free (DownloadOptions.ReserveBytes). Free space on that file system, or lower ReserveBytes"));
            }

            static long Add(long a, long b) => a > long.MaxValue - b ? long.MaxValue : a + b;
        }

        private FileStream Open()
        {
            if (_stream is null)
            {
                Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);

                // No buffer: chunks arrive whole from the network, and what Write returned is in the OS's hands.
                var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, bufferSize: 0);
                stream.SetLength(Length);
                stream.Position = Length;
                _stream = stream;
            }

            return _stream;
        }

        private UpdateException Failed(string action, Exception ex) =>
            IsDiskFull(ex)
                ? new UpdateException(UpdateFailure.NoSpace, $"{path}: the file system is full after {Length} bytes; free space on it and start the update again", ex)
                : new UpdateException(UpdateFailure.DownloadFailed, $"{path}: cannot {action} the part file: {ex.Message}; check the state directory's permissions and disk", ex);

        // On Unix an IOException's HResult is the errno (ENOSPC 28, EDQUOT 122); on Windows the usual HRESULTs.
        private static bool IsDiskFull(Exception ex) =>
            ex.HResult is 28 or 122 or unchecked((int)0x80070070) or unchecked((int)0x80070027);
    }
}
