namespace Kairo.Hardware.Gpio;

/// <summary>A GPIO operation failed: the errno that libgpiod (or the kernel beneath it) reported, and its text.</summary>
public sealed class GpioException : Exception
{
    public GpioException(int errorCode, string nativeMessage, string message)
        : base(message)
    {
        ErrorCode = errorCode;
        NativeMessage = nativeMessage;
    }

    /// <summary>The errno value (2 = ENOENT, 13 = EACCES, 16 = EBUSY, 22 = EINVAL, ...).</summary>
    public int ErrorCode { get; }

    /// <summary>The C library's text for <see cref="ErrorCode"/> ("No such file or directory").</summary>
    public string NativeMessage { get; }

    public override string ToString() => $"{nameof(GpioException)} [errno {ErrorCode}]: {Message}";
}
