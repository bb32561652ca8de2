using System.Runtime.InteropServices;
using Kairo.Onnx;
using Kairo.Runtime.Frames;

namespace Kairo.Runtime.Sources;

/// <summary>The shape of generated frames.</summary>
public enum SyntheticPattern
{
    /// <summary>A travelling sine wave in 0..1: smooth, changes every tick (a camera panning over stripes).</summary>
    Wave,

    /// <summary>Seeded uniform noise in 0..1, new every tick.</summary>
    Noise,

    /// <summary>Every element the configured value.</summary>
    Constant,
}

/// <summary>Generates a frame every tick, for demos, benchmarks and tests. Deterministic for a given seed.</summary>
public sealed class SyntheticSource : IFrameSource
{
    private readonly SyntheticPattern _pattern;
    private readonly float _value;
    private ulong _state;
    private ulong _sequence;
    private FrameLayout? _layout;

    public SyntheticSource(SyntheticPattern pattern = SyntheticPattern.Wave, float value = 0.5f, ulong seed = 1)
    {
        _pattern = pattern;
        _value = value;
        _state = seed == 0 ? 0x9E3779B97F4A7C15UL : seed;
        Description = $"synthetic {_pattern.ToString().ToLowerInvariant()}";
    }

    public string Description { get; }

    public SourceCounters Counters { get; } = new();

    public void Open(FrameLayout layout) => _layout = layout;

    public bool TryRead(Span<byte> frame, out ulong sequence)
    {
        sequence = ++_sequence;
        var layout = _layout!;
        for (int s = 0; s < layout.Slots.Count; s++)
        {
            var slot = layout.Slots[s];
            var bytes = frame.Slice(slot.Offset, slot.Length);
            if (slot.ElementType == TensorElementType.Float)
            {
                Fill(MemoryMarshal.Cast<byte, float>(bytes), sequence);
            }
            else
            {
                for (int i = 0; i < bytes.Length; i++)
                {
                    bytes[i] = slot.ElementType == TensorElementType.Bool ? (byte)((i + (int)sequence) & 1) : (byte)(i + (int)sequence);
                }
            }
        }

        Counters.CountFrame();
        return true;
    }

    private void Fill(Span<float> values, ulong sequence)
    {
        switch (_pattern)
        {
            case SyntheticPattern.Constant:
                values.Fill(_value);
                break;
            case SyntheticPattern.Noise:
                for (int i = 0; i < values.Length; i++)
                {
                    _state ^= _state << 13;
                    _state ^= _state >> 7;
                    _state ^= _state << 17;
                    values[i] = (_state >> 40) * (1f / (1 << 24));
                }

                break;
            default:
                // 64 stripes across the frame, moving one element per tick.
                float phase = sequence * 0.1f;
                for (int i = 0; i < values.Length; i++)
                {
                    values[i] = 0.5f + (0.5f * MathF.Sin((i * (MathF.Tau / 64f)) + phase));
                }

                break;
        }
    }

    public void Dispose()
    {
    }
}
