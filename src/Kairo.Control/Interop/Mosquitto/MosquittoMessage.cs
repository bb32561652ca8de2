using System.Runtime.InteropServices;

namespace Kairo.Control.Interop;

/// <summary><c>struct mosquitto_message</c>: valid only for the duration of the message callback.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct MosquittoMessage
{
    public int MessageId;
    public byte* Topic;
    public void* Payload;
    public int PayloadLength;
    public int Qos;
    public byte Retain;
}
