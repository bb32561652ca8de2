using System.Runtime.InteropServices;

namespace Kairo.Ctl;

/// <summary>
/// SIGINT and SIGTERM as a cancellation token, for commands that run until stopped (<c>send</c>, <c>record</c>): the
/// command finishes its current frame, closes its files and prints its summary instead of dying mid-write.
/// </summary>
internal sealed class StopSignal : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly PosixSignalRegistration _interrupt;
    private readonly PosixSignalRegistration _terminate;

    public StopSignal()
    {
        _interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle);
        _terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle);
    }

    public CancellationToken Token => _stop.Token;

    private void Handle(PosixSignalContext context)
    {
        context.Cancel = true; // the command ends itself, promptly
        _stop.Cancel();
    }

    public void Dispose()
    {
        _interrupt.Dispose();
        _terminate.Dispose();
        _stop.Dispose();
    }
}
