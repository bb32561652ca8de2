using System.Runtime.InteropServices;

namespace Kairo.Control.Interop;

internal static partial class Mosquitto
{
    /// <summary><see cref="MOSQ_ERR_SUCCESS"/> when <paramref name="topic"/> is a valid topic name to publish to.</summary>
    [LibraryImport(Libraries.Mosquitto, EntryPoint = "mosquitto_pub_topic_check", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int PubTopicCheck(string topic);

    /// <summary><see cref="MOSQ_ERR_SUCCESS"/> when <paramref name="filter"/> is a valid subscription filter.</summary>
    [LibraryImport(Libraries.Mosquitto, EntryPoint = "mosquitto_sub_topic_check", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int SubTopicCheck(string filter);
}
