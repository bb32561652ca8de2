using System.Runtime.InteropServices;

namespace Kairo.Hardware.Interop;

/// <summary>
/// One open libgpiod v1 chip and the lines taken from it, addressed by offset; every call returns 0 or an errno.
/// </summary>
/// <remarks>
/// Ownership: in libgpiod v1 a <c>struct gpiod_line</c> is not an object of its own. <c>gpiod_chip_get_line</c>
/// returns a pointer into the chip's line table, <c>gpiod_line_release</c> only hands the kernel request back (it
/// frees nothing), and <c>gpiod_chip_close</c> releases and frees every line. A SafeHandle per line would therefore
/// free nothing when released early and touch freed memory when released after its chip. So the chip is the one
/// SafeHandle, line pointers are cached here and never leave this folder, and each call on a line holds a reference
/// on the chip handle: a chip disposed during a blocking event wait is closed only when that wait returns.
/// Serializing calls on one line (a release against a wait, say) is the caller's job.
/// </remarks>
internal sealed unsafe class GpiodChip : IDisposable
{
    private readonly SafeGpiodChipHandle _handle;
    private readonly nint[] _lines;

    private GpiodChip(SafeGpiodChipHandle handle)
    {
        _handle = handle;
        LineCount = checked((int)Gpiod.ChipNumLines(handle));
        Name = Marshal.PtrToStringUTF8(Gpiod.ChipName(handle)) ?? "";
        _lines = new nint[LineCount];
    }

    /// <summary>The kernel's name for the chip ("gpiochip0").</summary>
    internal string Name { get; }

    internal int LineCount { get; }

    /// <summary>
    /// Opens a chip by path (starts with '/'), by name ("gpiochip0"), or else by number or kernel label. Null on
    /// failure, with the errno in <paramref name="errno"/>.
    /// </summary>
    internal static GpiodChip? TryOpen(string chip, out int errno)
    {
        SafeGpiodChipHandle handle;
        try
        {
            // A name goes straight to /dev/<name>: gpiod_chip_open_lookup would try it as a label first.
            handle = chip.StartsWith('/') ? Gpiod.ChipOpen(chip)
                : chip.StartsWith("gpiochip", StringComparison.Ordinal) ? Gpiod.ChipOpenByName(chip)
                : Gpiod.ChipOpenLookup(chip);
        }
        catch (DllNotFoundException e)
        {
            throw new DllNotFoundException(
                $"{Libraries.Gpiod} could not be loaded; install libgpiod v1.5 or newer (Debian: apt-get install libgpiod2).", e);
        }

        if (handle.IsInvalid)
        {
            errno = Marshal.GetLastPInvokeError();
            handle.Dispose();
            return null;
        }

        errno = 0;
        return new GpiodChip(handle);
    }

    internal const int RequestInput = 0;
    internal const int RequestOutput = 1;
    internal const int RequestBothEdges = 2;

    /// <summary>Takes the line from the chip (once) and requests it as <paramref name="kind"/> for the consumer.</summary>
    internal int Request(int offset, int kind, string consumer, int flags, bool initialValue)
    {
        bool added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            nint line = _lines[offset];
            if (line == 0)
            {
                line = Gpiod.ChipGetLine(_handle, (uint)offset);
                if (line == 0)
                {
                    return Marshal.GetLastPInvokeError();
                }

                _lines[offset] = line;
            }

            int rc = kind switch
            {
                RequestInput => Gpiod.LineRequestInputFlags(line, consumer, flags),
                RequestOutput => Gpiod.LineRequestOutputFlags(line, consumer, flags, initialValue ? 1 : 0),
                _ => Gpiod.LineRequestBothEdgesEventsFlags(line, consumer, flags),
            };
            return rc == 0 ? 0 : Marshal.GetLastPInvokeError();
        }
        finally
        {
            if (added)
            {
                _handle.DangerousRelease();
            }
        }
    }

    internal int GetValue(int offset, out bool value)
    {
        value = false;
        bool added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            nint line = _lines[offset];
            if (line == 0)
            {
                return Libc.EPERM;
            }

            int rc = Gpiod.LineGetValue(line);
            if (rc < 0)
            {
                return Marshal.GetLastPInvokeError();
            }

            value = rc != 0;
            return 0;
        }
        finally
        {
            if (added)
            {
                _handle.DangerousRelease();
            }
        }
    }

    internal int SetValue(int offset, bool value)
    {
        bool added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            nint line = _lines[offset];
            if (line == 0)
            {
                return Libc.EPERM;
            }

            return Gpiod.LineSetValue(line, value ? 1 : 0) == 0 ? 0 : Marshal.GetLastPInvokeError();
        }
        finally
        {
            if (added)
            {
                _handle.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// Waits up to <paramref name="timeoutNanoseconds"/> for an edge event and reads it when one comes;
    /// <paramref name="occurred"/> is false on timeout.
    /// </summary>
    internal int WaitEvent(int offset, long timeoutNanoseconds, out bool occurred, out int eventType, out long timestampNanoseconds)
    {
        occurred = false;
        eventType = 0;
        timestampNanoseconds = 0;
        bool added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            nint line = _lines[offset];
            if (line == 0)
            {
                return Libc.EPERM;
            }

            Libc.Timespec timeout;
            timeout.Seconds = (nint)(timeoutNanoseconds / 1_000_000_000L);
            timeout.Nanoseconds = (nint)(timeoutNanoseconds % 1_000_000_000L);
            int rc = Gpiod.LineEventWait(line, &timeout);
            if (rc < 0)
            {
                return Marshal.GetLastPInvokeError();
            }

            if (rc == 0)
            {
                return 0;
            }

            Gpiod.LineEvent e;
            if (Gpiod.LineEventRead(line, &e) != 0)
            {
                return Marshal.GetLastPInvokeError();
            }

            occurred = true;
            eventType = e.EventType;
            timestampNanoseconds = ((long)e.Timestamp.Seconds * 1_000_000_000L) + e.Timestamp.Nanoseconds;
            return 0;
        }
        finally
        {
            if (added)
            {
                _handle.DangerousRelease();
            }
        }
    }

    internal void Release(int offset)
    {
        bool added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            nint line = _lines[offset];
            if (line != 0)
            {
                Gpiod.LineRelease(line);
            }
        }
        finally
        {
            if (added)
            {
                _handle.DangerousRelease();
            }
        }
    }

    public void Dispose() => _handle.Dispose();
}
