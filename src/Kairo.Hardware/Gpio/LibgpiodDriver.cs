using Kairo.Hardware.Interop;

namespace Kairo.Hardware.Gpio;

/// <summary>A GPIO chip through libgpiod v1 (<c>libgpiod.so.2</c>); lines are requested under the consumer name "kairod".</summary>
public sealed class LibgpiodDriver : IGpioDriver
{
    /// <summary>The consumer name the kernel shows for Kairo's lines (<c>gpioinfo</c>).</summary>
    public const string Consumer = "kairod";

    private readonly GpiodChip _chip;
    private readonly LineState[] _lines;

    private LibgpiodDriver(GpiodChip chip)
    {
        _chip = chip;
        ChipName = chip.Name;
        _lines = new LineState[chip.LineCount];
        for (int i = 0; i < _lines.Length; i++)
        {
            _lines[i] = new LineState();
        }
    }

    public string ChipName { get; }

    public int LineCount => _lines.Length;

    /// <summary>libgpiod's own version ("1.6.3"), or null when <c>libgpiod.so.2</c> cannot be loaded.</summary>
    public static string? LibraryVersion => Gpiod.TryGetVersion();

    /// <summary>
    /// Opens a chip by path (<c>/dev/gpiochip0</c>), name (<c>gpiochip0</c>), number or kernel label. A chip that is
    /// not there throws <see cref="GpioException"/> naming the chips that are.
    /// </summary>
    public static LibgpiodDriver Open(string chip)
    {
        ArgumentException.ThrowIfNullOrEmpty(chip);
        GpiodChip? opened = GpiodChip.TryOpen(chip, out int errno);
        if (opened is null)
        {
            throw OpenError(chip, errno, "/dev");
        }

        return new LibgpiodDriver(opened);
    }

    internal static GpioException OpenError(string chip, int errno, string deviceDirectory)
    {
        GpioException native = GpioErrors.Native(errno, chip);
        string message = errno switch
        {
            Libc.ENOENT => $"GPIO chip '{chip}' does not exist (chips present: {DescribePresentChips(deviceDirectory)})",
            Libc.ENOTTY or Libc.ENODEV => $"'{chip}' is not a GPIO chip (chips present: {DescribePresentChips(deviceDirectory)})",
            Libc.EACCES or Libc.EPERM =>
                $"cannot open GPIO chip '{chip}': {native.NativeMessage}; kairod's user needs read and write access to /dev/gpiochip* (the 'gpio' group in kairod.service)",
            _ => $"cannot open GPIO chip '{chip}': {native.NativeMessage} (errno {errno})",
        };
        return new GpioException(errno, native.NativeMessage, message);
    }

    /// <summary>The gpiochip devices in <paramref name="deviceDirectory"/> in numeric order, comma-separated, or "none".</summary>
    internal static string DescribePresentChips(string deviceDirectory)
    {
        string[] chips;
        try
        {
            chips = Directory.GetFiles(deviceDirectory, "gpiochip*");
        }
        catch (IOException)
        {
            return "none";
        }
        catch (UnauthorizedAccessException)
        {
            return "none";
        }

        if (chips.Length == 0)
        {
            return "none";
        }

        var names = new List<string>(chips.Length);
        foreach (string path in chips)
        {
            names.Add(Path.GetFileName(path));
        }

        names.Sort(static (a, b) =>
        {
            bool aNumbered = int.TryParse(a.AsSpan("gpiochip".Length), out int aNumber);
            bool bNumbered = int.TryParse(b.AsSpan("gpiochip".Length), out int bNumber);
            return aNumbered && bNumbered ? aNumber.CompareTo(bNumber) : string.CompareOrdinal(a, b);
        });
        return string.Join(", ", names);
    }

    public void RequestInput(int line, bool activeLow = false, GpioBias bias = GpioBias.AsIs) =>
        Request(line, GpioLineMode.Input, GpiodChip.RequestInput, Flags(activeLow, bias), initialValue: false);

    public void RequestEdgeEvents(int line, bool activeLow = false, GpioBias bias = GpioBias.AsIs) =>
        Request(line, GpioLineMode.EdgeEvents, GpiodChip.RequestBothEdges, Flags(activeLow, bias), initialValue: false);

    public void RequestOutput(int line, bool initialValue = false, bool activeLow = false) =>
        Request(line, GpioLineMode.Output, GpiodChip.RequestOutput, Flags(activeLow, GpioBias.AsIs), initialValue);

    public bool Read(int line)
    {
        LineState state = Line(line);
        lock (state.Gate)
        {
            if (state.Mode == GpioLineMode.Free)
            {
                GpioErrors.ThrowWrongMode(ChipName, line, state.Mode, "a requested line");
            }

            int errno = _chip.GetValue(line, out bool value);
            if (errno != 0)
            {
                GpioErrors.ThrowNative(errno, ChipName, line, "reading the value");
            }

            return value;
        }
    }

    public void Write(int line, bool value)
    {
        LineState state = Line(line);
        lock (state.Gate)
        {
            if (state.Mode != GpioLineMode.Output)
            {
                GpioErrors.ThrowWrongMode(ChipName, line, state.Mode, "an output");
            }

            int errno = _chip.SetValue(line, value);
            if (errno != 0)
            {
                GpioErrors.ThrowNative(errno, ChipName, line, "setting the value");
            }
        }
    }

    public bool WaitForEdge(int line, TimeSpan timeout, out GpioEdgeEvent edge)
    {
        long timeoutNanoseconds = GpioErrors.TimeoutNanoseconds(timeout);
        LineState state = Line(line);

        // The line's gate is held for the whole (bounded) wait: a release or a chip close must not pull the event fd
        // out from under poll().
        lock (state.Gate)
        {
            if (state.Mode != GpioLineMode.EdgeEvents)
            {
                GpioErrors.ThrowWrongMode(ChipName, line, state.Mode, "an edge-event input");
            }

            int errno = _chip.WaitEvent(line, timeoutNanoseconds, out bool occurred, out int eventType, out long timestamp);
            if (errno != 0)
            {
                GpioErrors.ThrowNative(errno, ChipName, line, "waiting for an edge");
            }

            edge = occurred
                ? new GpioEdgeEvent(eventType == Gpiod.GPIOD_LINE_EVENT_RISING_EDGE ? GpioEdge.Rising : GpioEdge.Falling, timestamp)
                : default;
            return occurred;
        }
    }

    public void Release(int line)
    {
        LineState state = Line(line);
        lock (state.Gate)
        {
            if (state.Mode != GpioLineMode.Free)
            {
                _chip.Release(line);
                state.Mode = GpioLineMode.Free;
            }
        }
    }

    /// <summary>Closes the chip, which releases every line; a wait in flight finishes first (see <see cref="GpiodChip"/>).</summary>
    public void Dispose() => _chip.Dispose();

    private void Request(int line, GpioLineMode mode, int kind, int flags, bool initialValue)
    {
        LineState state = Line(line);
        lock (state.Gate)
        {
            if (state.Mode != GpioLineMode.Free)
            {
                GpioErrors.ThrowAlreadyRequested(ChipName, line, state.Mode);
            }

            int errno = _chip.Request(line, kind, Consumer, flags, initialValue);
            if (errno != 0)
            {
                GpioErrors.ThrowNative(errno, ChipName, line,
                    errno == Libc.EBUSY
                        ? $"requesting it as {GpioErrors.Describe(mode)} (another consumer holds it; see gpioinfo)"
                        : $"requesting it as {GpioErrors.Describe(mode)}");
            }

            state.Mode = mode;
        }
    }

    private LineState Line(int line)
    {
        if ((uint)line >= (uint)_lines.Length)
        {
            GpioErrors.ThrowLineOutOfRange(ChipName, line, _lines.Length);
        }

        return _lines[line];
    }

    private static int Flags(bool activeLow, GpioBias bias) =>
        (activeLow ? Gpiod.GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW : 0) | bias switch
        {
            GpioBias.Disabled => Gpiod.GPIOD_LINE_REQUEST_FLAG_BIAS_DISABLE,
            GpioBias.PullUp => Gpiod.GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP,
            GpioBias.PullDown => Gpiod.GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN,
            _ => 0,
        };

    private sealed class LineState
    {
        public readonly Lock Gate = new();
        public GpioLineMode Mode;
    }
}
