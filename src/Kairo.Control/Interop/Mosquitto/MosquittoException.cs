namespace Kairo.Control.Mqtt;

/// <summary>An error reported by libmosquitto: its <c>MOSQ_ERR</c> number and its own text for it.</summary>
public sealed class MosquittoException : Exception
{
    public MosquittoException(int errorCode, string nativeMessage, string message)
        : base(message)
    {
        ErrorCode = errorCode;
        NativeMessage = nativeMessage;
    }

    /// <summary>libmosquitto's <c>mosq_err_t</c> value (3 = invalid arguments, 4 = not connected, 8 = TLS, ...).</summary>
    public int ErrorCode { get; }

    /// <summary><c>mosquitto_strerror</c> of <see cref="ErrorCode"/>.</summary>
    public string NativeMessage { get; }

    public override string ToString() => $"{nameof(MosquittoException)} [MOSQ_ERR {ErrorCode}]: {Message}";
}
