using System.Runtime.InteropServices;

namespace Kairo.Control.Interop;

// MQTT 5 property lists (mosquitto_property*). A list built with the add functions is freed with FreeAll; values
// read out are copies the caller frees with free().

internal static unsafe partial class Mosquitto
{
    [LibraryImport(Libraries.Mosquitto, EntryPoint = "mosquitto_property_add_string", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int PropertyAddString(nint* propertyList, int identifier, string value);

    [LibraryImport(Libraries.Mosquitto, EntryPoint = "mosquitto_property_add_binary")]
    internal static partial int PropertyAddBinary(nint* propertyList, int identifier, void* value, ushort length);

    /// <summary>Returns the property found (null if none) and a malloc'd, NUL-terminated copy of its value.</summary>
    [LibraryImport(Libraries.Mosquitto, EntryPoint = "mosquitto_property_read_string")]
    internal static partial nint PropertyReadString(nint propertyList, int identifier, byte** value, [MarshalAs(UnmanagedType.U1)] bool skipFirst);

    /// <summary>Returns the property found (null if none) and a malloc'd copy of its value.</summary>
    [LibraryImport(Libraries.Mosquitto, EntryPoint = "mosquitto_property_read_binary")]
    internal static partial nint PropertyReadBinary(nint propertyList, int identifier, void** value, ushort* length, [MarshalAs(UnmanagedType.U1)] bool skipFirst);

    [LibraryImport(Libraries.Mosquitto, EntryPoint = "mosquitto_property_free_all")]
    internal static partial void PropertyFreeAll(nint* propertyList);
}
