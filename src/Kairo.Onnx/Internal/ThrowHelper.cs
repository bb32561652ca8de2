using System.Diagnostics.CodeAnalysis;

namespace Kairo.Onnx.Internal;

/// <summary>Throw sites kept out of line so the calls that may throw stay small on hot paths.</summary>
internal static class ThrowHelper
{
    [DoesNotReturn]
    public static void ThrowArgument(string message, string? paramName = null) =>
        throw new ArgumentException(message, paramName);

    [DoesNotReturn]
    public static void ThrowOnnx(OrtErrorCode code, string message) =>
        throw new OnnxRuntimeException(code, message);

    [DoesNotReturn]
    public static void ThrowObjectDisposed(string name) => throw new ObjectDisposedException(name);

    [DoesNotReturn]
    public static void ThrowNotLoaded() =>
        throw new InvalidOperationException("ONNX Runtime is not loaded: call OnnxRuntimeLibrary.Load first.");
}
