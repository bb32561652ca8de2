using System.Runtime.InteropServices;

namespace Kairo.Control.Interop;

// The callbacks run on the network thread with (mosq, obj = the user data given to mosquitto_new, ...).

internal static unsafe partial class Mosquitto
{
    [LibraryImport(Libraries.Mosquitto, EntryPoint = "mosquitto_connect_v5_callback_set")]
    internal static partial void ConnectV5CallbackSet(SafeMosquittoHandle mosq, delegate* unmanaged<nint, nint, int, int, nint, void> onConnect);

    [LibraryImport(Libraries.Mosquitto, EntryPoint = "mosquitto_disconnect_v5_callback_set")]
    internal static partial void DisconnectV5CallbackSet(SafeMosquittoHandle mosq, delegate* unmanaged<nint, nint, int, nint, void> onDisconnect);

    [LibraryImport(Libraries.Mosquitto, EntryPoint = "mosquitto_message_v5_callback_set")]
    internal static partial void MessageV5CallbackSet(SafeMosquittoHandle mosq, delegate* unmanaged<nint, nint, MosquittoMessage*, nint, void> onMessage);

    [LibraryImport(Libraries.Mosquitto, EntryPoint = "mosquitto_publish_v5_callback_set")]
    internal static partial void PublishV5CallbackSet(SafeMosquittoHandle mosq, delegate* unmanaged<nint, nint, int, int, nint, void> onPublish);

    [LibraryImport(Libraries.Mosquitto, EntryPoint = "mosquitto_subscribe_v5_callback_set")]
    internal static partial void SubscribeV5CallbackSet(SafeMosquittoHandle mosq, delegate* unmanaged<nint, nint, int, int, int*, nint, void> onSubscribe);

    [LibraryImport(Libraries.Mosquitto, EntryPoint = "mosquitto_log_callback_set")]
    internal static partial void LogCallbackSet(SafeMosquittoHandle mosq, delegate* unmanaged<nint, nint, int, byte*, void> onLog);
}
