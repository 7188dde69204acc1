using System.Net;
using System.Net.Sockets;

namespace MathV2.Core;

/// <summary>Ports on 127.0.0.1 for the local stack and the tests' processes.</summary>
public static class LoopbackPorts
{
    /// <summary>
    /// Whether a listener can bind the port now. As Kestrel does, connections in TIME_WAIT from a stopped server do
    /// not count as in use.
    /// </summary>
    public static bool IsFree(int port)
    {
        try
        {
            var l = new TcpListener(IPAddress.Loopback, port);
            l.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            l.Start();
            l.Stop();
            return true;
        }
        catch (SocketException) { return false; }
    }

    /// <summary>A base port with <paramref name="count"/> free consecutive ports, drawn at random in 20000–60000.</summary>
    public static int FreeRange(int count)
    {
        for (int attempt = 0; attempt < 200; attempt++)
        {
            int start = Random.Shared.Next(20000, 60000 - count);
            if (Enumerable.Range(start, count).All(IsFree)) return start;
        }
        throw new InvalidOperationException($"no {count} consecutive free ports on 127.0.0.1");
    }
}
