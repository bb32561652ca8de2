using System.Runtime.InteropServices;

namespace Kairo.Control.Interop;

/// <summary>
/// A <c>struct mosquitto*</c>. Destroyed only after its network thread has been stopped: destroying it while the
/// thread runs would make libmosquitto cancel and join that thread itself, without Kairo's time limit.
/// </summary>
internal sealed class SafeMosquittoHandle : SafeHandle
{
    public SafeMosquittoHandle()
        : base(0, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        Mosquitto.Destroy(handle);
        return true;
    }
}
