#include <stdio.h>
int main(void)
{
    puts("notify-gateway " GW_VERSION);
    return 0;
}
