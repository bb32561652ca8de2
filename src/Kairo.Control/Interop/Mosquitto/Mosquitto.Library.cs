using System.Runtime.InteropServices;
using Kairo.Control.Mqtt;

namespace Kairo.Control.Interop;

internal static unsafe partial class Mosquitto
{
    private static readonly Lock s_initGate = new();
    private static bool s_initialized;

    [LibraryImport(Libraries.Mosquitto, EntryPoint = "mosquitto_lib_init")]
    private static partial int LibInit();

    [LibraryImport(Libraries.Mosquitto, EntryPoint = "mosquitto_lib_version")]
    private static partial int LibVersion(int* major, int* minor, int* revision);

    /// <summary>libmosquitto's version; loads and initializes the library.</summary>
    internal static Version Version
    {
        get
        {
            EnsureInitialized();
            int major, minor, revision;
            LibVersion(&major, &minor, &revision);
            return new Version(major, minor, revision);
        }
    }

    /// <summary>
    /// Calls <c>mosquitto_lib_init</c> once per process (it is not thread-safe, hence the lock). The library is never
    /// cleaned up: clients may live until the process exits.
    /// </summary>
    internal static void EnsureInitialized()
    {
        if (Volatile.Read(ref s_initialized))
        {
            return;
        }

        lock (s_initGate)
        {
            if (s_initialized)
            {
                return;
            }

            int major, minor, revision;
            try
            {
                LibVersion(&major, &minor, &revision);
            }
            catch (DllNotFoundException e)
            {
                throw new DllNotFoundException(
                    $"{Libraries.Mosquitto} could not be loaded; install libmosquitto 2.x (Debian: apt-get install libmosquitto1).", e);
            }

            if (major < 2)
            {
                throw new MosquittoException(MOSQ_ERR_NOT_SUPPORTED, "unsupported version",
                    $"{Libraries.Mosquitto} is version {major}.{minor}.{revision}; Kairo needs libmosquitto 2.0 or newer.");
            }

            ThrowIfError(LibInit(), "mosquitto_lib_init");
            Volatile.Write(ref s_initialized, true);
        }
    }
}
