using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Kairo.Hardware.Interop;

namespace Kairo.Hardware.Gpio;

/// <summary>Builds the drivers' exceptions, kept out of line so the calls that can throw stay small.</summary>
internal static class GpioErrors
{
    /// <summary>A native failure: "{operation}: {strerror} (errno N)".</summary>
    internal static GpioException Native(int errno, string operation)
    {
        string text = Marshal.GetPInvokeErrorMessage(errno);
        return new GpioException(errno, text, $"{operation}: {text} (errno {errno})");
    }

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static void ThrowNative(int errno, string chip, int line, string operation) =>
        throw Native(errno, $"GPIO line {line} of {chip}: {operation}");

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static void ThrowLineOutOfRange(string chip, int line, int lineCount)
    {
        string text = Marshal.GetPInvokeErrorMessage(Libc.EINVAL);
        throw new GpioException(Libc.EINVAL, text,
            lineCount == 0
                ? $"GPIO line {line} does not exist: chip '{chip}' has no lines"
                : $"GPIO line {line} does not exist: chip '{chip}' has {lineCount} lines (0-{lineCount - 1})");
    }

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static void ThrowAlreadyRequested(string chip, int line, GpioLineMode mode)
    {
        string text = Marshal.GetPInvokeErrorMessage(Libc.EBUSY);
        throw new GpioException(Libc.EBUSY, text,
            $"GPIO line {line} of {chip} is already requested by kairod as {Describe(mode)}; release it first, or use another line");
    }

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static void ThrowWrongMode(string chip, int line, GpioLineMode mode, string needed) =>
        throw new InvalidOperationException($"GPIO line {line} of {chip} is {(mode == GpioLineMode.Free ? "not requested" : "requested as " + Describe(mode))}; this needs {needed}");

    internal static string Describe(GpioLineMode mode) => mode switch
    {
        GpioLineMode.Input => "an input",
        GpioLineMode.Output => "an output",
        GpioLineMode.EdgeEvents => "an edge-event input",
        _ => "nothing",
    };

    /// <summary>A wait timeout in nanoseconds: negative counts as zero, and the wait is always bounded.</summary>
    internal static long TimeoutNanoseconds(TimeSpan timeout)
    {
        if (timeout == Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), "GPIO edge waits are bounded; pass a finite timeout.");
        }

        return timeout <= TimeSpan.Zero ? 0 : timeout.Ticks * 100;
    }
}
