using System.Buffers;
using BenchmarkDotNet.Attributes;
using MoqLite.Lite;
using MoqLite.Lite.Messages;

namespace MoqLite.Benchmarks.Codec;

/// <summary>Encode and decode of frames, with bytes allocated per operation; messages are in <see cref="MessageCodecBenchmarks"/>.</summary>
[MemoryDiagnoser]
public class CodecBenchmarks
{
    private readonly ArrayBufferWriter<byte> _output = new(256 * 1024);
    private byte[] _payload = [];
    private ReadOnlySequence<byte> _frame;

    /// <summary>Frame payload size in bytes.</summary>
    [Params(1024, 10 * 1024)]
    public int FrameSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _payload = new byte[FrameSize];
        _frame = Encode(w => FrameCodec.Write(w, LiteVersion.Lite05, 33, _payload));
    }

    [Benchmark]
    public int EncodeFrame()
    {
        _output.ResetWrittenCount();
        FrameCodec.Write(_output, LiteVersion.Lite05, 33, _payload);
        return _output.WrittenCount;
    }

    [Benchmark]
    public int DecodeFrame()
    {
        var buffer = _frame;
        FrameCodec.TryReadHeader(ref buffer, LiteVersion.Lite05, int.MaxValue, out _, out var length);
        return length;
    }

    private static ReadOnlySequence<byte> Encode(Action<IBufferWriter<byte>> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        write(buffer);
        return new ReadOnlySequence<byte>(buffer.WrittenMemory);
    }
}
