using System.Runtime.InteropServices;

namespace Kairo.Runtime.Frames;

/// <summary>
/// A block of zeroed, 64-byte aligned native memory: never moved by the GC, so tensors can live over it for as
/// long as the buffer does.
/// </summary>
public sealed unsafe class NativeBuffer : IDisposable
{
    private const nuint Alignment = 64;
    private void* _memory;

    public NativeBuffer(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        Length = length;
        _memory = NativeMemory.AlignedAlloc((nuint)Math.Max(length, 1), Alignment);
        NativeMemory.Clear(_memory, (nuint)Math.Max(length, 1));
    }

    ~NativeBuffer() => Free();

    public int Length { get; }

    public nint Pointer => (nint)_memory;

    public Span<byte> Span => new(_memory, Length);

    public Span<byte> Slice(int offset, int length) => new((byte*)_memory + offset, length);

    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    private void Free()
    {
        if (_memory != null)
        {
            NativeMemory.AlignedFree(_memory);
            _memory = null;
        }
    }
}
