using System.Runtime.InteropServices;
using Kairo.Control.Mqtt;

namespace Kairo.Control.Interop;

// The native side of the callbacks: static, [UnmanagedCallersOnly], finding their session through the GCHandle
// passed as libmosquitto's user data. Each copies what it needs out of native memory before handing it on and catches
// every exception (one escaping into libmosquitto would take the process down). A muted session's callbacks return at
// once; Close takes them out of libmosquitto altogether before the thread may be cancelled.

internal sealed unsafe partial class MosquittoSession
{
    [ThreadStatic]
    private static int t_callbackDepth;

    private int _muted;

    /// <summary>True on a thread that is inside one of this library's callbacks (normally the network thread).</summary>
    public static bool InCallback => t_callbackDepth > 0;

    /// <summary>From now on callbacks return at once without reaching the owner.</summary>
    public void Mute() => Interlocked.Exchange(ref _muted, 1);

    private void RegisterCallbacks()
    {
        Mosquitto.ConnectV5CallbackSet(_handle, &OnConnect);
        Mosquitto.DisconnectV5CallbackSet(_handle, &OnDisconnect);
        Mosquitto.MessageV5CallbackSet(_handle, &OnMessage);
        Mosquitto.PublishV5CallbackSet(_handle, &OnPublish);
        Mosquitto.SubscribeV5CallbackSet(_handle, &OnSubscribe);
        Mosquitto.LogCallbackSet(_handle, &OnLog);
    }

    private static MosquittoSession? Find(nint userData) =>
        userData == 0 ? null : GCHandle.FromIntPtr(userData).Target as MosquittoSession;

    private static MosquittoSession? Enter(nint userData)
    {
        if (Find(userData) is not { } session || Volatile.Read(ref session._muted) != 0)
        {
            return null;
        }

        t_callbackDepth++;
        return session;
    }

    private static void Exit() => t_callbackDepth--;

    private void Report(string callback, Exception exception)
    {
        try
        {
            _events.OnCallbackFailed(callback, exception);
        }
        catch
        {
            // Nothing is left to report to; the exception must not reach libmosquitto.
        }
    }

    [UnmanagedCallersOnly]
    private static void OnConnect(nint mosq, nint userData, int reasonCode, int flags, nint properties)
    {
        try
        {
            if (Enter(userData) is not { } session)
            {
                return;
            }

            try
            {
                session._events.OnConnect(reasonCode, sessionPresent: (flags & 1) != 0);
            }
            catch (Exception e)
            {
                session.Report("connect", e);
            }
            finally
            {
                Exit();
            }
        }
        catch
        {
            // Only reachable if the user data is not a live session; nothing to report to.
        }
    }

    [UnmanagedCallersOnly]
    private static void OnDisconnect(nint mosq, nint userData, int code, nint properties)
    {
        try
        {
            // After a requested DISCONNECT this is the thread's last word: it ends right after. Muted or not.
            if (Find(userData) is { } closing && Volatile.Read(ref closing._disconnectRequested) != 0)
            {
                closing._disconnectReported.Set();
            }

            if (Enter(userData) is not { } session)
            {
                return;
            }

            try
            {
                session._events.OnDisconnect(code);
            }
            catch (Exception e)
            {
                session.Report("disconnect", e);
            }
            finally
            {
                Exit();
            }
        }
        catch
        {
        }
    }

    [UnmanagedCallersOnly]
    private static void OnMessage(nint mosq, nint userData, MosquittoMessage* message, nint properties)
    {
        try
        {
            if (Enter(userData) is not { } session)
            {
                return;
            }

            try
            {
                session._events.OnMessage(Copy(message, properties));
            }
            catch (Exception e)
            {
                session.Report("message", e);
            }
            finally
            {
                Exit();
            }
        }
        catch
        {
        }
    }

    [UnmanagedCallersOnly]
    private static void OnPublish(nint mosq, nint userData, int messageId, int reasonCode, nint properties)
    {
        try
        {
            Find(userData)?.Acknowledged(messageId); // muted or not: a graceful close waits on it
            if (Enter(userData) is not { } session)
            {
                return;
            }

            try
            {
                session._events.OnPublishAcknowledged(messageId, reasonCode);
            }
            catch (Exception e)
            {
                session.Report("publish", e);
            }
            finally
            {
                Exit();
            }
        }
        catch
        {
        }
    }

    [UnmanagedCallersOnly]
    private static void OnSubscribe(nint mosq, nint userData, int messageId, int qosCount, int* grantedQos, nint properties)
    {
        try
        {
            if (Enter(userData) is not { } session)
            {
                return;
            }

            try
            {
                var granted = grantedQos == null || qosCount <= 0 ? default : new ReadOnlySpan<int>(grantedQos, qosCount);
                session._events.OnSubscribeAcknowledged(messageId, granted);
            }
            catch (Exception e)
            {
                session.Report("subscribe", e);
            }
            finally
            {
                Exit();
            }
        }
        catch
        {
        }
    }

    [UnmanagedCallersOnly]
    private static void OnLog(nint mosq, nint userData, int level, byte* text)
    {
        try
        {
            if (Enter(userData) is not { } session)
            {
                return;
            }

            try
            {
                if (session._events.WantsLog(level))
                {
                    session._events.OnLog(level, Mosquitto.Utf8(text));
                }
            }
            catch (Exception e)
            {
                session.Report("log", e);
            }
            finally
            {
                Exit();
            }
        }
        catch
        {
        }
    }

    /// <summary>Copies a received message and the properties Kairo uses; the native memory is gone after the callback.</summary>
    private static MqttMessage Copy(MosquittoMessage* message, nint properties)
    {
        string topic = Mosquitto.Utf8(message->Topic);
        byte[] payload = message->PayloadLength > 0 && message->Payload != null
            ? new ReadOnlySpan<byte>(message->Payload, message->PayloadLength).ToArray()
            : [];

        string? responseTopic = null, contentType = null;
        byte[]? correlationData = null;
        if (properties != 0)
        {
            responseTopic = ReadString(properties, Mosquitto.MQTT_PROP_RESPONSE_TOPIC);
            correlationData = ReadBinary(properties, Mosquitto.MQTT_PROP_CORRELATION_DATA);
            contentType = ReadString(properties, Mosquitto.MQTT_PROP_CONTENT_TYPE);
        }

        return new MqttMessage
        {
            Topic = topic,
            Payload = payload,
            Qos = message->Qos,
            Retain = message->Retain != 0,
            ResponseTopic = responseTopic,
            CorrelationData = correlationData,
            ContentType = contentType,
        };
    }

    private static string? ReadString(nint properties, int identifier)
    {
        byte* value = null;
        if (Mosquitto.PropertyReadString(properties, identifier, &value, skipFirst: false) == 0)
        {
            return null;
        }

        try
        {
            return Mosquitto.Utf8(value);
        }
        finally
        {
            NativeMemory.Free(value); // libmosquitto's copy, from malloc.
        }
    }

    private static byte[]? ReadBinary(nint properties, int identifier)
    {
        void* value = null;
        ushort length = 0;
        if (Mosquitto.PropertyReadBinary(properties, identifier, &value, &length, skipFirst: false) == 0)
        {
            return null;
        }

        try
        {
            return length == 0 || value == null ? [] : new ReadOnlySpan<byte>(value, length).ToArray();
        }
        finally
        {
            NativeMemory.Free(value);
        }
    }
}
