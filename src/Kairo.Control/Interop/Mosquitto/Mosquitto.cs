using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Kairo.Control.Mqtt;

namespace Kairo.Control.Interop;

/// <summary>
/// libmosquitto's client API (MQTT 5 and 3.1.1). The bindings are split one function, or one small family, per
/// file; this part holds the constants Kairo uses and the error plumbing. Only this folder touches raw pointers
/// to libmosquitto objects.
/// </summary>
internal static unsafe partial class Mosquitto
{
    // enum mosq_err_t (the values Kairo looks at).
    internal const int MOSQ_ERR_SUCCESS = 0;
    internal const int MOSQ_ERR_NOMEM = 1;
    internal const int MOSQ_ERR_PROTOCOL = 2;
    internal const int MOSQ_ERR_INVAL = 3;
    internal const int MOSQ_ERR_NO_CONN = 4;
    internal const int MOSQ_ERR_CONN_REFUSED = 5;
    internal const int MOSQ_ERR_CONN_LOST = 7;
    internal const int MOSQ_ERR_TLS = 8;
    internal const int MOSQ_ERR_NOT_SUPPORTED = 10;
    internal const int MOSQ_ERR_ERRNO = 14;
    internal const int MOSQ_ERR_EAI = 15;
    internal const int MOSQ_ERR_KEEPALIVE = 19;

    // enum mosq_opt_t.
    internal const int MOSQ_OPT_PROTOCOL_VERSION = 1;
    internal const int MOSQ_OPT_TCP_NODELAY = 11;

    // Log levels handed to the log callback.
    internal const int MOSQ_LOG_INFO = 1 << 0;
    internal const int MOSQ_LOG_NOTICE = 1 << 1;
    internal const int MOSQ_LOG_WARNING = 1 << 2;
    internal const int MOSQ_LOG_ERR = 1 << 3;
    internal const int MOSQ_LOG_DEBUG = 1 << 4;

    // MQTT reason codes (mqtt_protocol.h).
    internal const int MQTT_RC_NORMAL_DISCONNECTION = 0;
    internal const int MQTT_RC_DISCONNECT_WITH_WILL_MSG = 4;
    internal const int MQTT_RC_UNSPECIFIED = 128;
    internal const int MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION = 132;

    // MQTT 5 property identifiers (mqtt_protocol.h).
    internal const int MQTT_PROP_CONTENT_TYPE = 3;
    internal const int MQTT_PROP_RESPONSE_TOPIC = 8;
    internal const int MQTT_PROP_CORRELATION_DATA = 9;

    // OpenSSL's SSL_VERIFY_PEER, for mosquitto_tls_opts_set.
    internal const int SSL_VERIFY_PEER = 1;

    /// <summary>Throws <see cref="MosquittoException"/> for any code but <see cref="MOSQ_ERR_SUCCESS"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void ThrowIfError(int rc, string operation)
    {
        if (rc != MOSQ_ERR_SUCCESS)
        {
            ThrowError(rc, operation);
        }
    }

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static void ThrowError(int rc, string operation) => throw CreateException(rc, operation);

    internal static MosquittoException CreateException(int rc, string operation)
    {
        string native = ErrorText(rc);
        return new MosquittoException(rc, native, $"{operation} failed: {native} (MOSQ_ERR {rc})");
    }

    /// <summary>libmosquitto's text for one of its own error numbers.</summary>
    internal static string ErrorText(int rc) => Utf8(StrError(rc));

    /// <summary>The text of an MQTT 5 reason code, or of an MQTT 3.1.1 CONNACK return code.</summary>
    internal static string ReasonText(int reasonCode, bool mqtt5) =>
        Utf8(mqtt5 ? ReasonString(reasonCode) : ConnackString(reasonCode));

    internal static string Utf8(byte* s) => s == null ? "" : Marshal.PtrToStringUTF8((nint)s) ?? "";
}
